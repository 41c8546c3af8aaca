"""Server configuration, read from ``DIGIHUMAN_*`` environment variables.

Top-level fields are the ones an operator sets most (``DIGIHUMAN_DATA_DIR``,
``DIGIHUMAN_API_KEYS=k1,k2``, ...); limits live in nested sections set with a
double underscore, e.g. ``DIGIHUMAN_MEDIA__MAX_INPUT_BYTES=52428800``.
Settings are built once in ``main()`` (or by a test) and passed down; nothing
reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MB = 1024 * 1024


class MediaSettings(BaseModel):
    """Limits for media taken from users (URLs and uploads)."""

    max_input_bytes: int = Field(100 * MB, description="Largest accepted input file.")
    max_training_bytes: int = Field(
        1024 * MB, description="Largest accepted avatar-training video (and upload)."
    )
    connect_timeout_s: float = Field(10.0, description="Connect timeout for input URLs.")
    read_timeout_s: float = Field(30.0, description="Read timeout between chunks of a download.")
    max_redirects: int = Field(5, description="Redirects followed, each re-checked.")
    download_deadline_s: float = Field(120.0, description="Longest one input download may take in all.")
    max_concurrent_downloads: int = Field(
        8, description="Input downloads running at once per API server (503 beyond), so slow ones cannot "
                       "take every request thread."
    )
    max_audio_seconds: float = Field(600.0, description="Longest accepted audio (speech, music) input.")


class TaskSettings(BaseModel):
    """Queue, worker and lifecycle limits."""

    timeout_s: float = Field(3600.0, description="Longest a task may run before it is failed.")
    max_attempts: int = Field(2, description="Runs of a task whose worker died before it is failed.")
    heartbeat_s: float = Field(5.0, description="How often a running task proves its worker alive.")
    stale_after_s: float = Field(
        30.0, description="A running task silent this long is taken to have lost its worker."
    )
    reaper_interval_s: float = Field(5.0, description="How often stale tasks are looked for.")
    max_active_per_key: int = Field(
        8, description="Queued plus running tasks one API key may have (429 beyond)."
    )
    retention_days: float = Field(
        7.0, description="Files of finished tasks and uploads older than this are deleted; 0 keeps all."
    )


class CallbackSettings(BaseModel):
    """Webhooks POSTed to a task's callback_url when it ends."""

    default_url: str | None = Field(
        None, description="Callback URL of tasks submitted without one (e.g. the operator's own receiver)."
    )
    retry_delays_s: list[float] = Field(
        [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0],
        description="Waits before each retry of a failed delivery, in order; the last one repeats.",
    )
    give_up_after_s: float = Field(
        86400.0, description="No retry is scheduled later than this after the first attempt."
    )
    timeout_s: float = Field(10.0, description="Longest wait for the receiver's answer to one attempt.")
    max_concurrent: int = Field(8, description="Deliveries in flight at once per API server.")
    poll_s: float = Field(1.0, description="How often the deliverer looks for ended tasks and due retries.")


class StorageSettings(BaseModel):
    """Object storage (``DIGIHUMAN_STORAGE__*``), used when ``DIGIHUMAN_STORAGE_URL`` names a bucket."""

    endpoint: str | None = Field(
        None, description="host[:port] of the store when the storage URL is s3://bucket[/prefix]."
    )
    access_key: str | None = Field(None, description="Access key, unless the storage URL carries one.")
    secret_key: str | None = Field(None, description="Secret key, unless the storage URL carries one.")
    region: str = Field("us-east-1", description="Region the store signs for (?region= in the URL wins).")
    secure: bool = Field(True, description="Talk HTTPS to the store (?secure=0 in the URL turns it off).")
    public_endpoint: str | None = Field(
        None, description="scheme://host[:port] clients download from, when it is not the endpoint the "
                          "servers use (download links are signed for it).",
    )
    proxy: bool = Field(
        False, description="Serve /files/ through the API instead of redirecting to the store, for stores "
                           "clients cannot reach.",
    )
    link_expiry_s: int = Field(3600, description="Lifetime of the store links /files/ redirects to.")
    cache_bytes: int = Field(
        5 * 1024 * MB, description="Local copies of stored files kept for engines to read, beyond which "
                                   "the least recently used go."
    )
    cache_keep_s: float = Field(
        3600.0, description="Copies used this recently are kept even past cache_bytes, as a job may still "
                            "be reading them: keep it at least DIGIHUMAN_TASKS__TIMEOUT_S."
    )


class LiveSettings(BaseModel):
    """Live avatar sessions (POST /v1/live), run inside the API server process."""

    max_sessions_per_key: int = Field(2, description="Live sessions one API key may hold at once (429 beyond).")
    max_sessions: int = Field(
        8, description="Live sessions this API server runs at once, all keys together (503 beyond): each "
                       "one renders and encodes in real time."
    )
    idle_timeout_s: float = Field(300.0, description="A session nobody has watched for this long ends.")
    default_size: int = Field(512, description="Long side of the stream in pixels when a session asks none.")
    max_size: int = Field(1080, description="Largest long side a session may ask for.")
    default_fps: float = Field(25.0, description="Frames per second when a session asks none.")
    max_fps: float = Field(30.0, description="Highest frame rate a session may ask for.")
    audio_lookahead_s: float = Field(
        0.2, ge=0.0, le=1.0,
        description="Streamed audio: seconds of the sound after each block planned with it; the mouth follows "
                    "the sound more closely, and the sound is heard this much later.",
    )
    token_ttl_s: float = Field(
        86400.0, description="A session ends this long after it was created, watched or not."
    )


class ChatSettings(BaseModel):
    """Chat backends for script rewriting: an OpenAI-compatible endpoint and/or local GGUF models."""

    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. https://api.example.com/v1.")
    api_key: str | None = Field(None, description="Bearer key of that endpoint.")
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Model names to offer, comma-separated; passed through unchanged."
    )
    timeout_s: float = Field(120.0, description="Longest wait for one answer.")
    retries: int = Field(2, description="Extra attempts on connection errors and 429/5xx answers.")
    bundled: bool = Field(True, description="Offer the bundled Gemma 3 270M (base) as 'gemma3-270m'.")
    llamacpp: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict, description="More local GGUF models, 'name=/path/model.gguf,other=/path/b.gguf'."
    )
    llamacpp_server: Path | None = Field(None, description="A llama-server binary to use instead of the bundled one.")
    llamacpp_threads: int = Field(0, description="CPU threads per local model (0: one per core).")
    llamacpp_context: int = Field(4096, description="Context of a local model in tokens (prompt + answer).")
    llamacpp_timeout_s: float = Field(300.0, description="Longest wait for one local answer.")
    rewrite_model: str | None = Field(
        None, description="Model behind the rewrite-* presets; default: the first remote model, else the "
                          "largest installed local one."
    )

    @field_validator("models", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value

    @field_validator("llamacpp", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        if any("=" not in p for p in pairs):
            raise ValueError("write local models as name=/path/model.gguf, separated by commas")
        return {name.strip(): path.strip() for name, _, path in (p.partition("=") for p in pairs)}


class Settings(BaseSettings):
    """Everything the server and its workers need to know."""

    model_config = SettingsConfigDict(
        env_prefix="DIGIHUMAN_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Where the database, queue and files live.")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Base of the absolute URLs the API returns."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted API keys, comma-separated, beside stored ones."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; SQLite in the data dir when unset."
    )
    redis_url: str | None = Field(
        None, description="Redis URL for the task queue; an embedded SQLite queue when unset."
    )
    storage_url: str | None = Field(
        None, description="s3://KEY:SECRET@host:port/bucket to keep files in an object store shared by "
                          "every server and worker; the data dir when unset."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (or IPs) that input URLs may name even though they resolve to private addresses.",
    )
    models_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "digihuman" / "models",
        description="Where models assembled from packages are kept (shared by all data dirs).",
    )
    engine_factory: str | None = Field(
        None, description="'module:function' building the engines instead of the built-in wiring."
    )
    max_body_bytes: int = Field(1 * MB, description="Largest JSON or form body (uploads excepted).")
    body_timeout_s: float = Field(60.0, description="Longest a client may take to send a request body (408).")
    header_timeout_s: float = Field(15.0, description="Longest a client may take to send a request's headers "
                                                      "(the connection is closed).")
    max_text_chars: int = Field(20000, description="Longest text to speak, in characters, on every route.")
    max_voice_models_per_key: int = Field(100, description="Voice models one API key may keep (429 beyond).")
    max_avatar_models_per_key: int = Field(50, description="Avatar models one API key may keep (429 beyond).")
    watermark_text: str = Field("digihuman", description="Corner mark on watermarked videos.")
    media: MediaSettings = MediaSettings()
    tasks: TaskSettings = TaskSettings()
    chat: ChatSettings = ChatSettings()
    callbacks: CallbackSettings = CallbackSettings()
    live: LiveSettings = LiveSettings()
    storage: StorageSettings = StorageSettings()

    @field_validator("api_keys", "allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'digihuman.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
