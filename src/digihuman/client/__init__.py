"""A Python client of the digihuman HTTP API, blocking or asyncio, over httpx.

    from digihuman.client import Client

    with Client("http://127.0.0.1:8000", key) as dh:
        task = dh.wait(dh.generate_video("me.png", text="Hello!", voice="en_US-lessac"))
        dh.download(task["outputs"]["video"], "hello.mp4")

Local files given as media are uploaded first; ``wait`` draws a progress bar fed by the
server's event stream (or by polling, on servers without one) and raises TaskFailed or
TaskCancelled when the task does not succeed.
"""

from digihuman.client.aio import AsyncClient
from digihuman.client.errors import ClientError, ServerUnreachable, TaskCancelled, TaskFailed
from digihuman.client.sync import Client

__all__ = ["AsyncClient", "Client", "ClientError", "ServerUnreachable", "TaskCancelled", "TaskFailed"]
