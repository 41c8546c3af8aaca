"""Downloading user-given URLs without letting them reach the server's own network.

Every URL, and every redirect target, must be http(s) and resolve only to public
addresses, unless the operator allow-listed its host. The URL is checked up front (so
the API can refuse it at once), and the addresses are checked again where the
connection is made: the download connects to exactly the address it checked, so a DNS
server that answers differently the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from digihuman.errors import FetchFailed, InvalidInput, TooLarge, UrlRefused

if TYPE_CHECKING:
    import ssl

    import httpx

CHUNK = 64 * 1024
USER_AGENT = "digihuman-fetch/0.1"
# Cloud instance metadata services; most are link-local or private already, 100.100.100.200 is not.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and exceptions for downloading one input."""

    max_bytes: int
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    max_redirects: int = 5
    allowed_hosts: frozenset[str] = frozenset()
    # The whole download, redirects included: a server trickling a byte just inside the read
    # timeout would otherwise hold a request thread for as long as it likes.
    deadline_s: float = 120.0


@dataclass(frozen=True)
class Fetched:
    """A completed download: the file at ``path`` and what the server said about it."""

    path: Path
    size: int
    content_type: str | None
    final_url: str


def human_size(n: int) -> str:
    """Bytes as a person reads them: 1536 -> "1.5 KB", 100 * 2**20 -> "100 MB"."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def check_url(url: str, policy: FetchPolicy, field: str = "url") -> None:
    """Refuse ``url`` unless it is http(s) and every address its host resolves to is public.

    Raises InvalidInput for a malformed URL, UrlRefused for a refused scheme or address,
    FetchFailed when the host does not resolve.
    """
    how = "give an http(s) URL, or upload the file via POST /v1/files and pass its url"
    only = "only http(s) URLs or files uploaded via POST /v1/files are accepted"
    if not isinstance(url, str) or not url.strip() or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput(f"{field} is not a valid URL: {how}.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as e:
        raise InvalidInput(f"{field} is not a valid URL: {how}.") from e
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidInput(f"{field} is not a valid URL: {how}.")
    if scheme not in ("http", "https"):
        raise UrlRefused(f"{field} uses the {scheme}: scheme, which is refused: {only}.")
    if not host:
        raise InvalidInput(f"{field} has no host name: {how}.")
    if not _allowed(host, policy.allowed_hosts):
        _public_addresses(host, port or (443 if scheme == "https" else 80), field)


def _public_addresses(host: str, port: int, field: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` resolves to, refusing the host if any of them is not public."""
    try:
        addresses = [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        addresses = _resolve(host, port, field)
    for address in addresses:
        if _forbidden(address):
            shown = getattr(address, "ipv4_mapped", None) or address  # ::ffff:a00:5 reads as 10.0.0.5
            raise UrlRefused(
                f"{field} resolves to a private or local address ({shown}), which is not allowed; "
                f"ask the operator to add {host} to DIGIHUMAN_ALLOWED_HOSTS."
            )
    return addresses


def fetch(
    url: str,
    dest: Path,
    policy: FetchPolicy,
    field: str = "url",
    *,
    transport: httpx.BaseTransport | None = None,
) -> Fetched:
    """Download ``url`` to ``dest``, re-checking every redirect and stopping at ``policy.max_bytes``.

    The download ends with FetchFailed once it has run ``policy.deadline_s``: checked between reads,
    and (on the default transport) as the socket timeout of each read, so a stall cannot outlast it.
    """
    import httpx

    deadline = time.monotonic() + policy.deadline_s

    timeout = httpx.Timeout(
        connect=policy.connect_timeout_s,
        read=policy.read_timeout_s,
        write=policy.read_timeout_s,
        pool=policy.connect_timeout_s,
    )
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    current = url
    # trust_env=False: a proxy from the environment would connect to hosts we never checked
    with httpx.Client(
        follow_redirects=False, timeout=timeout, transport=transport or checked_transport(policy, field, deadline),
        trust_env=False, headers=headers,
    ) as client:
        for hop in range(policy.max_redirects + 1):
            check_url(current, policy, field if hop == 0 else f"{field} (redirected to {_short(current)})")
            try:
                with client.stream("GET", current) as response:
                    if response.has_redirect_location:
                        current = urljoin(str(response.url), response.headers["location"])
                        continue
                    if response.status_code >= 300:
                        answer = f"the server answered HTTP {response.status_code}"
                        raise FetchFailed(f"{field} could not be downloaded: {answer}.")
                    size = _save(response, dest, policy, field, deadline)
                    return Fetched(dest, size, response.headers.get("content-type"), str(response.url))
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                if isinstance(e, httpx.TimeoutException) and time.monotonic() >= deadline:
                    raise _overdue(field, policy) from e
                raise FetchFailed(f"{field} could not be downloaded: {_explain(e, policy)}.") from e
    raise FetchFailed(
        f"{field} could not be downloaded: it redirected more than {policy.max_redirects} times."
    )


def _overdue(field: str, policy: FetchPolicy) -> FetchFailed:
    return FetchFailed(f"{field} could not be downloaded: it took longer than {policy.deadline_s:g} s in all; "
                       "put the file on a faster server or upload it with POST /v1/files.")


def checked_transport(policy: FetchPolicy, field: str, deadline: float | None = None) -> httpx.HTTPTransport:
    """An HTTP transport whose every connection goes to an address that passed the check.

    With a ``deadline`` (a time.monotonic() value), no connect, read or write waits past it.
    """
    import httpcore
    import httpx

    def bounded(timeout: float | None) -> float | None:
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the download deadline has passed")
        return left if timeout is None else min(timeout, left)

    class DeadlineStream(httpcore.NetworkStream):
        """A connection whose every socket wait ends by the deadline."""

        def __init__(self, inner: httpcore.NetworkStream) -> None:
            self.inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self.inner.read(max_bytes, bounded(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self.inner.write(buffer, bounded(timeout))

        def close(self) -> None:
            self.inner.close()

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
            return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, bounded(timeout)))

        def get_extra_info(self, info: str):  # type: ignore[no-untyped-def]
            return self.inner.get_extra_info(info)

    class CheckedConnections(httpcore.SyncBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
            if _allowed(host, policy.allowed_hosts):
                return DeadlineStream(super().connect_tcp(host, port, bounded(timeout), local_address, socket_options))
            failure: Exception | None = None
            for address in _public_addresses(host, port, field):
                try:  # the checked address itself, never the name: it could resolve anew
                    stream = super().connect_tcp(str(address), port, bounded(timeout), local_address, socket_options)
                    return DeadlineStream(stream)
                except httpcore.ConnectError as e:
                    failure = e
            raise failure or httpcore.ConnectError(f"no address for {host}")

    transport = httpx.HTTPTransport(verify=tls_context())
    # httpx 0.28 takes no network backend of its own; the pool it built is replaced by one that has ours.
    # TLS still verifies the certificate against the URL's host name, which httpcore passes separately.
    transport._pool = httpcore.ConnectionPool(ssl_context=tls_context(), network_backend=CheckedConnections())
    return transport


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context of every download, built once: building one reads the whole CA bundle
    (~50 ms of CPU), and each download used to build two."""
    import httpx

    return httpx.create_ssl_context()


def _save(response: httpx.Response, dest: Path, policy: FetchPolicy, field: str, deadline: float) -> int:
    """Stream the body to ``dest``, removing it again if it breaks a limit or the transfer fails."""
    max_bytes = policy.max_bytes
    too_large = TooLarge(f"{field} is larger than the {human_size(max_bytes)} limit.")
    try:
        declared = int(response.headers.get("content-length", ""))
    except ValueError:
        declared = None
    if declared is not None and declared > max_bytes:
        raise too_large
    size = 0
    try:
        with dest.open("wb") as out:
            # counts decoded bytes, so a compressed body cannot inflate past the limit either
            for chunk in response.iter_bytes(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                if time.monotonic() > deadline:
                    raise _overdue(field, policy)
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if size == 0:
        dest.unlink(missing_ok=True)
        raise FetchFailed(f"{field} could not be downloaded: the server sent an empty body.")
    return size


def _explain(e: Exception, policy: FetchPolicy) -> str:
    import httpx

    try:
        host = e.request.url.host
    except (AttributeError, RuntimeError):  # InvalidURL has no request; others may not have one yet
        host = "the server"
    if isinstance(e, httpx.ConnectTimeout):
        return f"{host} did not accept a connection within {policy.connect_timeout_s:g} s"
    if isinstance(e, httpx.ReadTimeout):
        return f"{host} sent nothing for {policy.read_timeout_s:g} s"
    if isinstance(e, httpx.TimeoutException):
        return f"the connection to {host} timed out"
    if isinstance(e, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in str(e):
            return f"the TLS certificate of {host} could not be verified"
        return f"could not connect to {host}"
    if isinstance(e, httpx.RemoteProtocolError):
        return f"{host} closed the connection before the download finished"
    if isinstance(e, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "the URL it leads to is not a valid http(s) URL"
    return f"the transfer from {host} failed ({type(e).__name__})"


def _allowed(host: str, allowed: frozenset[str]) -> bool:
    if not allowed:
        return False
    names = {h.strip().lower().strip("[]") for h in allowed}
    if host.lower() in names:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # "::1" and "0:0::1" are the same host, however the operator wrote it
    return any(_same_address(address, name) for name in names)


def _same_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, name: str) -> bool:
    try:
        return ipaddress.ip_address(name) == address
    except ValueError:
        return False


def _resolve(host: str, port: int, field: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchFailed(f"{field} could not be downloaded: could not resolve host {host}.") from e
    # sockaddr[0] of an IPv6 link-local address carries a "%scope" suffix ip_address() rejects
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _forbidden(address.ipv4_mapped)
        if address in NAT64:
            return _forbidden(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return (
        address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _short(url: str, limit: int = 100) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
