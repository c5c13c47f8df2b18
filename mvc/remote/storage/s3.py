"""S3-compatible object storage (AWS S3, MinIO, Ceph, GCS interop) as a remote's bytes.

``s3://bucket/prefix``: keys live under ``prefix/``.  Endpoint, region and credentials
come from boto3's own chain (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, instance roles...);
nothing of them is written to a store.  Every write is conditional (``If-None-Match: *``):
S3 answers 412 when the key exists, so a write never replaces an object.  Objects above
``multipart_threshold`` go up in parts (the completion carries the condition).
"""
from __future__ import annotations

import os
import re
import time

from ...errors import NotFoundError, RemoteError, UsageError
from .base import Storage, check_key, is_path, valid_key

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

MULTIPART_THRESHOLD = 64 << 20
PART_SIZE = 16 << 20
READ_PIECE = 1 << 20
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONFLICT_RETRIES = 5


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``; the prefix has no leading or trailing slash."""
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.fullmatch(bucket):
        raise UsageError(f"invalid S3 bucket name {bucket!r} in {url!r}", "use s3://bucket/prefix")
    if prefix:
        check_key(prefix)
    return bucket, prefix


def client_error_code(e) -> str:
    return str(e.response.get("Error", {}).get("Code", "")) if hasattr(e, "response") else ""


def client_status(e) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) if hasattr(e, "response") else 0


class S3Storage(Storage):
    def __init__(self, url: str, client=None, max_connections: int = 32):
        super().__init__()
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.multipart_threshold = MULTIPART_THRESHOLD
        self.part_size = PART_SIZE
        self.client = client or make_client(max_connections)

    def key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, e, what: str, key: str):
        """The typed error for a failed call (a missing key is NotFoundError)."""
        code, status = client_error_code(e), client_status(e)
        if code == "NoSuchBucket":
            return RemoteError(f"bucket {self.bucket} does not exist ({self.url})", "create it, or fix the URL")
        if status == 404 or code in ("NoSuchKey", "404", "NotFound"):
            return NotFoundError(f"{key} is not in storage {self.url}",
                                 "the remote lacks it: push it again from a store that has it")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return RemoteError(f"storage {self.url} refused to {what} {key}: {code}",
                               "check the credentials boto3 finds (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)")
        return RemoteError(f"storage {self.url}: cannot {what} {key}: {code or type(e).__name__}: {e}",
                           "check the endpoint (AWS_ENDPOINT_URL), network and credentials, then retry")

    def _unreachable(self, e, what: str, key: str) -> RemoteError:
        return RemoteError(f"storage {self.url}: cannot {what} {key}: {e}",
                           "check the endpoint (AWS_ENDPOINT_URL), network and credentials, then retry")

    def _call(self, what: str, key: str, fn, **kw):
        from botocore.exceptions import BotoCoreError, ClientError
        self._count()
        try:
            return fn(Bucket=self.bucket, **kw)
        except ClientError as e:
            raise self._fail(e, what, key) from None
        except BotoCoreError as e:
            raise self._unreachable(e, what, key) from None

    # ---- writes ---------------------------------------------------------------
    def put(self, key, data):
        from botocore.exceptions import BotoCoreError
        size = os.path.getsize(data) if is_path(data) else memoryview(data).nbytes
        for attempt in range(_CONFLICT_RETRIES):
            try:
                if size > self.multipart_threshold:
                    return self._put_multipart(key, data, size)
                return self._put_single(key, data)
            except _Conflict:  # another conditional write of this key is in flight: it wins or fails soon
                time.sleep(0.05 * 2 ** attempt)
            except BotoCoreError as e:
                raise self._unreachable(e, "write", key) from None
        raise RemoteError(f"storage {self.url}: {key} stayed in conflict with another writer",
                          "retry the push")

    def _put_single(self, key: str, data) -> bool:
        from botocore.exceptions import ClientError
        self._count()
        try:
            if is_path(data):
                with open(data, "rb") as f:
                    self.client.put_object(Bucket=self.bucket, Key=self.key(key), Body=f, IfNoneMatch="*")
            else:
                body = data if isinstance(data, bytes) else bytes(data)
                self.client.put_object(Bucket=self.bucket, Key=self.key(key), Body=body, IfNoneMatch="*")
            return True
        except ClientError as e:
            return self._conditional_outcome(e, key)

    def _conditional_outcome(self, e, key: str) -> bool:
        code, status = client_error_code(e), client_status(e)
        if status == 412 or code == "PreconditionFailed":
            return False
        if status == 409 and code == "ConditionalRequestConflict":
            raise _Conflict()
        raise self._fail(e, "write", key) from None

    def _put_multipart(self, key: str, data, size: int) -> bool:
        """Parts one after another (a push runs ``jobs`` objects at once); the completion
        carries ``If-None-Match: *``.  A failed or refused upload is aborted (that removes
        the parts of an upload that never became an object, not an object)."""
        from botocore.exceptions import ClientError
        full = self.key(key)
        upload = self._call("start an upload of", key, self.client.create_multipart_upload, Key=full)["UploadId"]
        completed = False
        try:
            parts = []
            for number, start in enumerate(range(0, size, self.part_size), 1):
                piece = _read_piece(data, start, min(self.part_size, size - start))
                r = self._call("upload a part of", key, self.client.upload_part, Key=full, UploadId=upload,
                               PartNumber=number, Body=piece)
                parts.append({"ETag": r["ETag"], "PartNumber": number})
            self._count()
            try:
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload,
                                                      MultipartUpload={"Parts": parts}, IfNoneMatch="*")
                completed = True
                return True
            except ClientError as e:
                return self._conditional_outcome(e, key)
        finally:
            if not completed:
                self._abort_quietly(full, upload)

    def _abort_quietly(self, full: str, upload: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError
        try:  # after a completion this is a no-op error (NoSuchUpload)
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload)
        except (ClientError, BotoCoreError):
            pass

    # ---- reads ----------------------------------------------------------------
    def get(self, key):
        r = self._call("read", key, self.client.get_object, Key=self.key(key))
        return _read_body(r, self, key)

    def get_range(self, key, start, length):
        from botocore.exceptions import BotoCoreError, ClientError
        if length <= 0:
            return b""
        self._count()
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self.key(key), Range=f"bytes={start}-{start + length - 1}")
        except ClientError as e:
            if client_error_code(e) == "InvalidRange" or client_status(e) == 416:
                return b""  # wholly past the end: a short read, as a file gives
            raise self._fail(e, "read", key) from None
        except BotoCoreError as e:
            raise self._unreachable(e, "read", key) from None
        return _read_body(r, self, key)

    def get_to(self, key, path):
        r = self._call("read", key, self.client.get_object, Key=self.key(key))
        body = r["Body"]
        try:
            with open(path, "wb") as f:
                while piece := body.read(READ_PIECE):
                    f.write(piece)
        except OSError as e:
            raise RemoteError(f"cannot write {key} to {path}: {e.strerror or e}") from None
        except Exception as e:  # a broken stream (botocore's ReadTimeout, IncompleteRead)
            raise RemoteError(f"storage {self.url}: reading {key} failed: {e}", "retry") from None
        finally:
            body.close()

    def exists(self, key):
        try:
            self._call("check", key, self.client.head_object, Key=self.key(key))
            return True
        except NotFoundError:
            return False

    def list(self, prefix: str) -> Iterator[str]:
        full = self.key(prefix.rstrip("/")) + ("/" if prefix.endswith("/") else "") if prefix else \
            (self.prefix + "/" if self.prefix else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        keys = []
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                self._count()
                keys += [o["Key"][cut:] for o in page.get("Contents", ())]
        except ClientError as e:
            raise self._fail(e, "list", prefix) from None
        except BotoCoreError as e:
            raise self._unreachable(e, "list", prefix) from None
        return iter(sorted(k for k in keys if valid_key(k)))


class _Conflict(Exception):
    """S3's 409 ConditionalRequestConflict: retry the write."""


def _read_piece(data, start: int, n: int) -> bytes:
    if is_path(data):
        with open(data, "rb") as f:
            return os.pread(f.fileno(), n, start)
    return bytes(memoryview(data).cast("B")[start:start + n])


def _read_body(r, storage: S3Storage, key: str) -> bytes:
    body = r["Body"]
    try:
        return body.read()
    except Exception as e:  # a broken stream: botocore raises its own types for a short body
        raise RemoteError(f"storage {storage.url}: reading {key} failed: {e}", "retry") from None
    finally:
        body.close()


def make_client(max_connections: int = 32):
    """A thread-safe S3 client from boto3's own configuration chain (the one references use):
    the pool holds a connection per parallel transfer; retries use boto3's standard mode."""
    from ...store.references import s3_client
    return s3_client(max_connections)
