"""Files in an S3-compatible object store (AWS S3, MinIO, Ceph, R2...), through the MinIO client.

Chosen with ``DIGIHUMAN_STORAGE_URL``, in one of two forms::

    s3://ACCESS:SECRET@host:port/bucket[/prefix]?secure=0&region=us-east-1
    s3://bucket[/prefix]    (endpoint, keys: DIGIHUMAN_STORAGE__ENDPOINT, __ACCESS_KEY, __SECRET_KEY)

Every server and worker of a fleet names the same store, so none needs a shared disk: engines
still read local paths, which ``local_path`` and ``local_dir`` fill from a bounded cache in the
data dir (see ``cache.py``), and writes go straight to the store. Clients keep one URL shape,
``<public_url>/files/<key>``; the API answers it with a redirect to a short-lived presigned URL of
the store, or serves the file itself when ``DIGIHUMAN_STORAGE__PROXY=1``.
"""

from __future__ import annotations

import io
import mimetypes
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from digihuman.errors import BackendFailed, InvalidInput, NotFound
from digihuman.storage.base import validate_key
from digihuman.storage.cache import ObjectCache, entry_name

if TYPE_CHECKING:
    from minio import Minio

    from digihuman.config import StorageSettings

CHUNK = 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}


@dataclass(frozen=True)
class S3Location:
    """Where the store is and how to sign in, parsed once from the storage URL and settings."""

    endpoint: str  # host[:port] the server talks to
    bucket: str
    prefix: str  # prepended to every key ('' or 'folder/')
    secure: bool  # https
    region: str
    access_key: str | None
    secret_key: str | None
    public_endpoint: str | None  # scheme://host[:port] clients download from, when it differs

    @classmethod
    def parse(cls, url: str, options: StorageSettings) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise InvalidInput("DIGIHUMAN_STORAGE_URL must look like s3://KEY:SECRET@host:port/bucket or "
                               "s3://bucket (with DIGIHUMAN_STORAGE__ENDPOINT).")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = [p for p in parts.path.split("/") if p]
        if options.endpoint:  # s3://bucket/prefix
            endpoint, bucket, rest = options.endpoint, parts.netloc.rsplit("@", 1)[-1], path
        elif path:  # s3://host:port/bucket/prefix
            endpoint, bucket, rest = parts.netloc.rsplit("@", 1)[-1], path[0], path[1:]
        else:  # s3://bucket on AWS
            endpoint, bucket, rest = "s3.amazonaws.com", parts.netloc.rsplit("@", 1)[-1], []
        secure = query.get("secure", "1" if options.secure else "0").lower() not in ("0", "false", "no")
        return cls(
            endpoint=endpoint, bucket=bucket, prefix="".join(f"{p}/" for p in rest), secure=secure,
            region=query.get("region", options.region),
            access_key=unquote(parts.username) if parts.username else options.access_key,
            secret_key=unquote(parts.password) if parts.password else options.secret_key,
            public_endpoint=options.public_endpoint,
        )

    def client(self, endpoint: str | None = None, secure: bool | None = None) -> Minio:
        from minio import Minio
        from urllib3 import PoolManager, Retry, Timeout

        http = PoolManager(
            maxsize=16,  # request threads and a worker's jobs share one client
            timeout=Timeout(connect=10, read=120),
            retries=Retry(total=3, backoff_factor=0.3, status_forcelist=[500, 502, 503, 504]),
        )
        return Minio(endpoint or self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                     secure=self.secure if secure is None else secure, region=self.region, http_client=http)


class S3Storage:
    """Objects ``<prefix><key>`` in one bucket; reads go through a local cache under ``cache_dir``."""

    def __init__(self, location: S3Location, options: StorageSettings, cache_dir: Path,
                 public_url: str) -> None:
        self.location = location
        self.options = options
        self.public_url = public_url.rstrip("/")
        self.cache = ObjectCache(cache_dir, options.cache_bytes, options.cache_keep_s)
        self._client = location.client()
        self._signer = self._client
        if location.public_endpoint:  # links are signed for the host that clients will send
            public = urlsplit(location.public_endpoint)
            self._signer = location.client(public.netloc, public.scheme == "https")

    # writing

    def put_file(self, key: str, source: Path) -> None:
        source = Path(source)
        result = self._call(key, lambda c: c.fput_object(
            self.location.bucket, self._name(key), str(source), content_type=_content_type(key)))
        # The writer often reads its file back (an upload is probed, an output returned): keep it.
        self.cache.fill(entry_name(key, _etag(result.etag)),
                        lambda folder: _link_or_copy(source, folder / _base(key)))

    def put_bytes(self, key: str, data: bytes) -> None:
        result = self._call(key, lambda c: c.put_object(
            self.location.bucket, self._name(key), io.BytesIO(data), len(data),
            content_type=_content_type(key)))
        self.cache.fill(entry_name(key, _etag(result.etag)),
                        lambda folder: (folder / _base(key)).write_bytes(data))

    def put_dir(self, prefix: str, source: Path) -> None:
        for path in sorted(Path(source).rglob("*")):
            if path.is_file():
                self.put_file(f"{prefix}/{path.relative_to(source).as_posix()}", path)

    # reading

    def local_path(self, key: str) -> Path:
        etag = self._etag_of(key)
        folder = self.cache.fill(entry_name(key, etag),
                                 lambda tmp: self._download(key, etag, tmp / _base(key)))
        return folder / _base(key)

    def local_dir(self, prefix: str) -> Path:
        validate_key(prefix)
        listing = sorted((self._key(o.object_name), _etag(o.etag)) for o in self._list(f"{prefix}/"))
        if not listing:
            raise NotFound(f"{prefix!r} does not exist.")

        def build(tmp: Path) -> None:
            for key, etag in listing:
                self._download(key, etag, tmp / key.removeprefix(f"{prefix}/"))

        return self.cache.fill(entry_name(f"{prefix}/", *(f"{k}\0{e}" for k, e in listing)), build)

    def exists(self, key: str) -> bool:
        try:
            self._etag_of(key)
        except NotFound:
            return False
        return True

    def iter_older_than(self, prefix: str, cutoff: float) -> Iterator[str]:
        validate_key(prefix)
        for item in self._list(f"{prefix}/"):
            if item.last_modified is not None and item.last_modified.timestamp() < cutoff:
                yield self._key(item.object_name)

    # deleting

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        if self.exists(prefix):  # a single file, as on disk: its folder namesakes stay
            names = [self._name(prefix)]
        else:
            names = [item.object_name for item in self._list(f"{prefix}/")]
        if names:
            errors = self._call(prefix, lambda c: list(c.remove_objects(
                self.location.bucket, (DeleteObject(n) for n in names))))
            if errors:
                raise BackendFailed(f"the object store refused to delete {errors[0].name!r} "
                                    f"({errors[0].code}); check the store's permissions.")
        # This machine's copies go too (others' age out: named by ETag, no reader gets them back).
        self.cache.drop(f"{prefix}/", *(self._key(name) for name in names))
        return len(names)

    # serving

    def url(self, key: str) -> str:
        return f"{self.public_url}/files/{quote(validate_key(key))}"

    def link(self, key: str, method: str = "GET") -> str | None:
        if self.options.proxy:
            return None
        expiry = timedelta(seconds=self.options.link_expiry_s)
        return self._call(key, lambda c: c.get_presigned_url(
            method, self.location.bucket, self._name(key), expires=expiry), client=self._signer)

    def check(self) -> None:
        """Raise BackendFailed unless the store answers and holds the bucket (one request, for start-up)."""
        if not self._call(self.location.bucket, lambda c: c.bucket_exists(self.location.bucket)):
            raise BackendFailed(f"the object store has no bucket {self.location.bucket!r}; create it "
                                "or fix DIGIHUMAN_STORAGE_URL.")

    # the store

    def _name(self, key: str) -> str:
        return self.location.prefix + validate_key(key)

    def _key(self, name: str) -> str:
        return name.removeprefix(self.location.prefix)

    def _etag_of(self, key: str) -> str:
        return _etag(self._call(key, lambda c: c.stat_object(self.location.bucket, self._name(key))).etag)

    def _list(self, prefix: str) -> list[Any]:
        name = self.location.prefix + prefix
        return self._call(prefix, lambda c: [o for o in c.list_objects(self.location.bucket, prefix=name,
                                                                       recursive=True) if not o.is_dir])

    def _download(self, key: str, etag: str, target: Path) -> None:
        """Stream ``key`` into ``target``, refusing a copy whose ETag is not ``etag`` (replaced meanwhile)."""
        target.parent.mkdir(parents=True, exist_ok=True)

        def get(c: Minio) -> None:
            response = c.get_object(self.location.bucket, self._name(key),
                                    request_headers={"If-Match": f'"{etag}"'})
            try:
                with target.open("wb") as out:
                    shutil.copyfileobj(response, out, CHUNK)
            finally:
                response.close()
                response.release_conn()

        self._call(key, get)

    def _call(self, key: str, action: Any, client: Minio | None = None) -> Any:
        """Run ``action(client)``, turning the store's answers into the errors users act on."""
        from minio.error import MinioException, S3Error
        from urllib3.exceptions import HTTPError

        where = f"{self.location.endpoint}/{self.location.bucket}"
        try:
            return action(client or self._client)
        except S3Error as e:
            if e.code in _MISSING:
                raise NotFound(f"file {key!r} does not exist.") from e
            if e.code == "NoSuchBucket":
                raise BackendFailed(f"the object store has no bucket {self.location.bucket!r}; create it "
                                    "or fix DIGIHUMAN_STORAGE_URL.") from e
            if e.code == "PreconditionFailed":
                raise BackendFailed(f"file {key!r} changed while it was read; retry.") from e
            raise BackendFailed(f"the object store at {where} refused {key!r} ({e.code}: {e.message}); "
                                "check DIGIHUMAN_STORAGE_URL and the store's permissions.") from e
        except (MinioException, HTTPError, OSError) as e:
            if isinstance(e, OSError) and not isinstance(e, (ConnectionError, TimeoutError)):
                raise  # local disk errors are not the store's
            raise BackendFailed(f"the object store at {where} could not be reached ({type(e).__name__}); "
                                "check DIGIHUMAN_STORAGE_URL and that the store is up.") from e


def _etag(value: str | None) -> str:
    return (value or "").strip('"')


def _base(key: str) -> str:
    """The key's file name: engines (FFmpeg) and content types go by the extension."""
    return key.rsplit("/", 1)[-1]


def _content_type(key: str) -> str:
    return mimetypes.guess_type(_base(key))[0] or "application/octet-stream"


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link costs no copy; across file systems it cannot be, so copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
