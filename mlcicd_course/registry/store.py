"""Where a model registry keeps its files: a local folder or an S3 prefix, one interface.

A backend stores blobs under keys ("index.json", "artifacts/<sha256>.joblib") and offers
the four operations a registry needs to stay consistent when several processes write at
once:

- `read(key)`: the bytes and a token naming that exact content (None if absent);
- `create(key, data)`: write only if the key does not exist yet (False if it does);
- `replace(key, data, token)`: write only if the key still holds the content `token`
  names (False if someone else wrote it meanwhile);
- `list(prefix)`: the keys that start with `prefix`.

`LocalBackend` creates a file by writing a temporary and hard-linking it to its name
(`os.link` fails if the name exists, on Linux, macOS and Windows/NTFS alike), and
replaces a file under a lock file taken with O_CREAT|O_EXCL: inside the lock it checks
the token, writes a temporary and renames it over the old file (`os.replace`, atomic).
A lock already held means another writer is busy: `replace` returns False at once
instead of waiting. A process killed inside the lock leaves the lock file behind; the
error names it, to be deleted once no writer is running.

`S3Backend` uses S3's conditional writes: `put_object(IfNoneMatch="*")` to create and
`put_object(IfMatch=etag)` to replace; S3 answers 412 Precondition Failed to the loser
(or 409 ConditionalRequestConflict while the winner's upload is in flight). S3 decides
atomically. moto (5.2) honours both headers but checks the condition and then writes
without a lock, and its server answers requests on several threads: against moto, a
stale ETag is always refused, but two writes in the same instant could both pass. The
tests therefore race real processes on the folder backend, and check the S3 backend
with a write slipped in between a read and its conditional write.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlcicd_course.registry.errors import RegistryError


@dataclass(frozen=True)
class Blob:
    """A stored object's bytes and the token that names exactly this content."""

    data: bytes
    token: str


class Backend(Protocol):
    """What a registry needs from storage (see the module docstring)."""

    location: str

    def read(self, key: str) -> Blob | None: ...

    def create(self, key: str, data: bytes) -> bool: ...

    def replace(self, key: str, data: bytes, token: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key:
        raise ValueError(f"not a registry key: {key!r}")
    return key


def _os_line(err: OSError) -> str:
    return err.strerror or str(err).strip().splitlines()[0]


class LocalBackend:
    """A registry in a folder on this machine (created on the first write)."""

    LOCK_SUFFIX = ".lock"

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def read(self, key: str) -> Blob | None:
        """The file's bytes and their sha256 as the token; None if there is no file."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise RegistryError(f"cannot read {path}: {_os_line(err)}") from None
        return Blob(data, hashlib.sha256(data).hexdigest())

    def create(self, key: str, data: bytes) -> bool:
        """Write the file unless it exists (temporary, then a hard link to the name)."""
        path = self._path(key)
        tmp = self._temporary(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as err:
            raise RegistryError(f"cannot write {path}: {_os_line(err)}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def replace(self, key: str, data: bytes, token: str) -> bool:
        """Replace the file if it still has the content `token` names (under the lock)."""
        path = self._path(key)
        with self._lock(path) as held:
            if not held:
                return False
            current = self.read(key)
            if current is None or current.token != token:
                return False
            tmp = self._temporary(path, data)
            try:
                os.replace(tmp, path)
            except PermissionError:
                # Windows refuses to replace a file another process has open: that
                # reader wins the round, the caller sees a conflict
                tmp.unlink(missing_ok=True)
                return False
            except OSError as err:
                tmp.unlink(missing_ok=True)
                raise RegistryError(f"cannot write {path}: {_os_line(err)}") from None
        return True

    def list(self, prefix: str = "") -> list[str]:
        """Keys (forward slashes) of the files under the root that start with `prefix`,
        sorted; temporaries and lock files are not keys."""
        if not self.root.is_dir():
            return []
        keys = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                if path.is_file() and not path.name.startswith(".")
                and not path.name.endswith(self.LOCK_SUFFIX))
        return sorted(key for key in keys if key.startswith(prefix))

    def _temporary(self, path: Path, data: bytes) -> Path:
        """`data` written and flushed to a new hidden file beside `path`."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise RegistryError(f"cannot write {path}: {_os_line(err)}") from None
        return tmp

    @contextmanager
    def _lock(self, path: Path) -> Iterator[bool]:
        """Hold `path`.lock for the block (True), or yield False if another writer holds it."""
        lock = path.with_name(path.name + self.LOCK_SUFFIX)
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            yield False
            return
        except OSError as err:
            raise RegistryError(f"cannot create the lock file {lock}: {_os_line(err)}") from None
        try:
            os.write(fd, f"pid {os.getpid()}\n".encode())
            os.close(fd)
            yield True
        finally:
            lock.unlink(missing_ok=True)

    def lock_path(self, key: str) -> Path:
        """The lock file that guards `key` (left behind only by a killed writer)."""
        path = self._path(key)
        return path.with_name(path.name + self.LOCK_SUFFIX)


class S3Backend:
    """A registry under `s3://bucket/prefix`, through an injected boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        key = _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> Blob | None:
        """The object's bytes and its ETag as the token; None if there is no object."""
        with self._errors(key):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except self.client.exceptions.NoSuchKey:
                return None
            return Blob(answer["Body"].read(), answer["ETag"])

    def create(self, key: str, data: bytes) -> bool:
        """put_object with If-None-Match: * (False when the object exists)."""
        return self._put(key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, token: str) -> bool:
        """put_object with If-Match: ETag (False when the object changed meanwhile)."""
        return self._put(key, data, IfMatch=token)

    def list(self, prefix: str = "") -> list[str]:
        """Keys under the registry's prefix that start with `prefix` (prefix removed)."""
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        with self._errors(prefix or "(list)"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix)
            for page in pages:
                keys.extend(item["Key"][len(base):] for item in page.get("Contents", []))
        return sorted(keys)

    def _put(self, key: str, data: bytes, **condition: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                       **condition)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                # 412: the condition failed; 409: a concurrent conditional write won
                if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey") \
                        or status in (409, 412):
                    return False
                raise
        return True

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Any other S3 or connection failure as one RegistryError line."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as err:
            error = err.response.get("Error", {})
            code = error.get("Code", "error")
            message = error.get("Message") or code
            if code == "NoSuchBucket":
                message = "the bucket does not exist"
            raise RegistryError(f"{self.location}: {key}: {code}: {message}") from None
        except BotoCoreError as err:
            raise RegistryError(f"{self.location}: {key}: {str(err).splitlines()[0]}") from None
