"""References to bytes outside the store: ``s3://bucket/key`` (or a prefix) and
``http(s)://…`` (docs/format.md, "Reference pointers").

A log records what identifies the object, never its bytes: its size and the server's
identity for its content (S3: the ETag, and the version id in a versioned bucket; HTTP:
the ETag, else Last-Modified).  ETags are compared as opaque strings, never as MD5s (a
multipart upload's ETag is not the MD5 of the object).  The pointer's ``digest`` is
composed from those fields (``identity_digest``), so logging an unchanged object again
gives the same version.  A server that gives neither ETag nor Last-Modified is read once
at log time and the content's own digest (digest.hash_file) is recorded instead.

A use downloads the object and checks it: a pinned S3 version is read by its id (it
survives an overwrite); otherwise a changed ETag/Last-Modified or size is an
IntegrityError.  ``checksum=False`` records the URI alone (size 0) and a use takes the
object as it is then.  boto3 is imported only for an ``s3://`` reference.
"""
from __future__ import annotations

import posixpath
import tempfile
import urllib.error
import urllib.request
from urllib.parse import quote, unquote, urlparse

import blake3

from .. import canonical
from ..errors import IntegrityError, InvalidInputError, NotFoundError, RemoteError
from ..paths import path_problem
from .digest import hash_file
from .pointer import Pointer

SCHEMES = ("s3", "http", "https")
DEFAULT_MAX_OBJECTS = 10_000   # a prefix expands to at most this many entries (W&B's default max_objects)
REF_DOMAIN = b"mvc-ref-v1\x00"
PIECE = 8 << 20
HTTP_TIMEOUT = 60


def file_uri_path(uri: str) -> str:
    """The local path of a ``file://`` URI: ``file:///abs/path`` or ``file://localhost/abs/path``.
    Any other host is refused: ``file://relative/path`` silently became ``/path``."""
    u = urlparse(uri)
    if u.netloc not in ("", "localhost"):
        raise InvalidInputError(f"{uri} names the host {u.netloc!r}; a file:// reference is a path on this machine",
                                f"write an absolute path: file:///{u.netloc}{u.path} if you meant /{u.netloc}{u.path}, "
                                "or a plain path to log the files themselves")
    if not u.path.startswith("/"):
        raise InvalidInputError(f"{uri} has no absolute path", "write file:///absolute/path")
    return unquote(u.path)


def is_remote_reference(uri: str) -> bool:
    return isinstance(uri, str) and urlparse(uri).scheme in SCHEMES


def identity_digest(fields: dict) -> str:
    """The digest of a reference that is not hashed: BLAKE3 over a domain tag and the
    canonical JSON of what identifies the object (ref, size, etag, version, mtime)."""
    return "blake3:" + blake3.blake3(REF_DOMAIN + canonical.dumps(fields)).hexdigest()


def _pointer(ref: str, size: int, **ident) -> Pointer:
    ident = {k: v for k, v in ident.items() if v is not None}
    digest = identity_digest({"ref": ref, "size": size, **ident})
    return Pointer(size=size, digest=digest, ref=ref, extra=ident)


def uri_only(uri: str) -> Pointer:
    """``checksum=False``: the URI alone; a use takes whatever is there."""
    return Pointer(size=0, digest=identity_digest({"ref": uri, "checksum": False}), ref=uri,
                   extra={"checksum": False})


def expand(uri: str, checksum: bool = True, max_objects: int | None = None) -> list[tuple[str, Pointer]]:
    """The (relative path, pointer) entries a reference logs: one for an object (named by
    its basename), one per object under a prefix (named below it), at most
    ``max_objects`` (default DEFAULT_MAX_OBJECTS)."""
    scheme = urlparse(uri).scheme
    if scheme not in SCHEMES:
        raise InvalidInputError(f"{scheme}:// references are not supported: {uri}",
                                "use s3://, https:// or file:// references, or log a local copy")
    cap = DEFAULT_MAX_OBJECTS if max_objects is None else max_objects
    if not checksum:
        name = _basename(uri)
        if uri.endswith("/") or not name:
            raise InvalidInputError(f"checksum=False takes the URI of one object, not a prefix: {uri}",
                                    "leave checksum on to expand the prefix, or reference one object")
        return [(name, uri_only(uri))]
    if scheme == "s3":
        return _expand_s3(uri, cap)
    return [(_http_name(uri), _http_pointer(uri))]


def _basename(uri: str) -> str:
    return posixpath.basename(unquote(urlparse(uri).path).rstrip("/")) if not uri.endswith("/") else ""


def _checked_path(rel: str, uri: str) -> str:
    why = path_problem(rel)
    if why:
        raise InvalidInputError(f"reference {uri} holds an object named {rel!r}, which cannot be a file of a "
                                f"version: its path {why}", "reference a narrower prefix, or rename the object")
    return rel


# ---- S3 -----------------------------------------------------------------------------
def parse_s3(uri: str) -> tuple[str, str]:
    u = urlparse(uri)
    if not u.netloc:
        raise InvalidInputError(f"invalid S3 reference {uri!r}", "use s3://bucket/key or s3://bucket/prefix/")
    return u.netloc, unquote(u.path.lstrip("/"))


def s3_client(max_connections: int = 10):
    """An S3 client from boto3's own configuration chain (AWS_ENDPOINT_URL, profiles, roles)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise RemoteError("s3:// needs boto3, which is not installed", "pip install 'mvc-models[s3]'") from None
    config = Config(max_pool_connections=max_connections, retries={"max_attempts": 5, "mode": "standard"})
    return boto3.session.Session().client("s3", config=config)


def _s3_error(e, uri: str):
    code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
    status = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound") or status == 404:
        return NotFoundError(f"reference {uri} does not exist ({code or status})",
                             "check the URI; an object deleted since the log cannot be fetched")
    return RemoteError(f"reference {uri}: {code or type(e).__name__}: {e}",
                       "check the credentials and endpoint boto3 finds (AWS_PROFILE, AWS_ENDPOINT_URL)")


def _s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{quote(key)}"


def _expand_s3(uri: str, cap: int) -> list[tuple[str, Pointer]]:
    from botocore.exceptions import BotoCoreError, ClientError
    bucket, key = parse_s3(uri)
    client = s3_client()
    try:
        if key and not key.endswith("/"):
            try:
                head = client.head_object(Bucket=bucket, Key=key)
                return [(_checked_path(posixpath.basename(key), uri), _s3_pointer(bucket, key, head))]
            except ClientError as e:
                if _s3_error(e, uri).__class__ is not NotFoundError:
                    raise
            key += "/"  # no such object: a prefix
        entries = _list_s3(client, bucket, key, uri, cap)
    except ClientError as e:
        raise _s3_error(e, uri) from None
    except BotoCoreError as e:
        raise RemoteError(f"reference {uri}: {e}", "check the endpoint (AWS_ENDPOINT_URL) and network") from None
    if not entries:
        raise NotFoundError(f"reference {uri} names no object and no prefix with objects",
                            "check the bucket and key")
    return entries


def _s3_pointer(bucket: str, key: str, head: dict) -> Pointer:
    version = head.get("VersionId")
    return _pointer(_s3_uri(bucket, key), int(head["ContentLength"]), etag=head["ETag"].strip('"'),
                    version=version if version and version != "null" else None)


def _versioned(client, bucket: str) -> bool:
    from botocore.exceptions import ClientError
    try:
        return client.get_bucket_versioning(Bucket=bucket).get("Status") in ("Enabled", "Suspended")
    except ClientError:  # not allowed to ask: list without version ids
        return False


def _list_s3(client, bucket: str, prefix: str, uri: str, cap: int) -> list[tuple[str, Pointer]]:
    """Every object under ``prefix`` (folder markers skipped), the latest version of each
    in a versioned bucket; stops listing once the cap is passed."""
    versioned = _versioned(client, bucket)
    op = "list_object_versions" if versioned else "list_objects_v2"
    out = []
    for page in client.get_paginator(op).paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Versions" if versioned else "Contents", ()):
            if (versioned and not o.get("IsLatest")) or o["Key"].endswith("/"):
                continue
            rel = _checked_path(o["Key"][len(prefix):], uri)
            version = o.get("VersionId") if versioned else None
            out.append((rel, _pointer(_s3_uri(bucket, o["Key"]), int(o["Size"]), etag=o["ETag"].strip('"'),
                                      version=version if version != "null" else None)))
            if len(out) > cap:
                raise InvalidInputError(f"reference {uri} holds more than {cap} objects",
                                        "pass max_objects= with a larger cap, or reference a narrower prefix")
    return sorted(out, key=lambda e: e[0])


def _download_s3(ptr: Pointer, out, label: str, verify: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError
    bucket, key = parse_s3(ptr.ref)
    kw = {"Bucket": bucket, "Key": key}
    version = ptr.extra.get("version")
    if version:
        kw["VersionId"] = version
    try:
        r = s3_client().get_object(**kw)
    except ClientError as e:
        raise _s3_error(e, ptr.ref) from None
    except BotoCoreError as e:
        raise RemoteError(f"reference {ptr.ref}: {e}", "check the endpoint and network, then retry") from None
    body = r["Body"]
    try:
        if verify and ptr.extra.get("checksum", True) is not False:
            _same(ptr, label, etag=r["ETag"].strip('"'), size=int(r["ContentLength"]))
        n = _stream(body, out, ptr.ref)
    finally:
        body.close()
    _check_size(ptr, label, n, verify)


# ---- HTTP(S) --------------------------------------------------------------------------
def _http_name(uri: str) -> str:
    name = _basename(uri)
    if not name:
        raise InvalidInputError(f"an https:// reference names one file; {uri} names none",
                                "reference the file's URL itself")
    return _checked_path(name, uri)


def _open(uri: str, method: str = "GET"):
    req = urllib.request.Request(uri, method=method, headers={"Accept-Encoding": "identity"})
    try:
        return urllib.request.urlopen(req, timeout=HTTP_TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code in (404, 410):
            raise NotFoundError(f"reference {uri} does not exist (HTTP {e.code})", "check the URL") from None
        raise RemoteError(f"reference {uri}: HTTP {e.code} {e.reason}", "check the URL and the server") from None
    except (urllib.error.URLError, OSError) as e:
        raise RemoteError(f"reference {uri}: {getattr(e, 'reason', e)}", "check the URL and network") from None


def _validators(headers) -> dict:
    etag = headers.get("ETag")
    if etag:
        return {"etag": etag.strip()}
    mtime = headers.get("Last-Modified")
    return {"mtime": mtime.strip()} if mtime else {}


def _http_pointer(uri: str) -> Pointer:
    with _open(uri, "HEAD") as r:
        ident, length = _validators(r.headers), r.headers.get("Content-Length")
    if ident and length is not None and length.isdigit():
        return _pointer(uri, int(length), **ident)
    return _hashed_http_pointer(uri)


def _hashed_http_pointer(uri: str) -> Pointer:
    """No ETag or Last-Modified (or no size): read it once and record its content digest."""
    with tempfile.NamedTemporaryFile(prefix="mvc-ref-") as tmp:
        with _open(uri) as r:
            _stream(r, tmp, uri)
        tmp.flush()
        digest, size = hash_file(tmp.name)
    return Pointer(size=size, digest=digest, ref=uri, extra={"check": "content"})


def _download_http(ptr: Pointer, out, label: str, verify: bool) -> None:
    with _open(ptr.ref) as r:
        if verify and ptr.extra.get("checksum", True) is not False and ptr.extra.get("check") != "content":
            got = _validators(r.headers)
            length = r.headers.get("Content-Length")
            _same(ptr, label, size=int(length) if length and length.isdigit() else None, **got)
        n = _stream(r, out, ptr.ref)
    _check_size(ptr, label, n, verify)


# ---- shared -----------------------------------------------------------------------------
def _stream(src, out, uri: str) -> int:
    n = 0
    try:
        while piece := src.read(PIECE):
            out.write(piece)
            n += len(piece)
    except OSError as e:
        raise RemoteError(f"reference {uri}: the download broke off after {n} bytes ({e})", "retry") from None
    except Exception as e:  # botocore's own stream errors
        if e.__class__.__module__.startswith(("botocore", "urllib3", "http")):
            raise RemoteError(f"reference {uri}: the download broke off after {n} bytes ({e})", "retry") from None
        raise
    return n


def _same(ptr: Pointer, label: str, size: int | None = None, **got) -> None:
    """The object's identity now against the one logged (ETags compared as opaque strings)."""
    for k in ("etag", "mtime"):
        if k in ptr.extra and got.get(k) != ptr.extra[k]:
            raise _changed(ptr, label, f"its {k} was {ptr.extra[k]!r} when logged, now {got.get(k)!r}")
    if size is not None and size != ptr.size:
        raise _changed(ptr, label, f"it held {ptr.size} bytes when logged, now {size}")


def _check_size(ptr: Pointer, label: str, n: int, verify: bool) -> None:
    if verify and ptr.extra.get("checksum", True) is not False and n != ptr.size:
        raise _changed(ptr, label, f"{n} bytes arrived, {ptr.size} were logged")


def _changed(ptr: Pointer, label: str, why: str) -> IntegrityError:
    where = f"{label}: " if label else ""
    return IntegrityError(f"{where}referenced object {ptr.ref} changed since it was logged: {why}",
                          "pass verify=False to take it as it is now, or log the version again; a versioned "
                          "bucket keeps what was logged")


def download(ptr: Pointer, out, label: str = "", verify: bool = True) -> None:
    """Write the referenced object to the binary file ``out``, checked against what was
    logged unless ``verify`` is False; a content-checked pointer is hashed by the caller
    (``needs_hash``)."""
    if urlparse(ptr.ref).scheme == "s3":
        _download_s3(ptr, out, label, verify)
    else:
        _download_http(ptr, out, label, verify)


def needs_hash(ptr: Pointer) -> bool:
    """Whether a use must hash the delivered file against ``ptr.digest`` (file:// references
    and HTTP objects logged without a validator)."""
    return urlparse(ptr.ref).scheme == "file" or ptr.extra.get("check") == "content"


def check(ptr: Pointer) -> str | None:
    """A problem with a reference as it is now (None if it still matches), by downloading
    it to a temporary file (verify and fsck read every byte)."""
    with tempfile.NamedTemporaryFile(prefix="mvc-ref-") as tmp:
        try:
            download(ptr, tmp, verify=True)
            tmp.flush()
            if needs_hash(ptr) and hash_file(tmp.name)[0] != ptr.digest:
                return f"reference {ptr.ref} changed since it was logged"
        except (IntegrityError, NotFoundError, RemoteError) as e:
            return e.message
    return None


