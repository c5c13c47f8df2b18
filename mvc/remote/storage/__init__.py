"""Byte storage of a remote: where chunks and packs live (docs/format.md, "Remote storage").

``open_storage(url)`` picks a backend by the URL's scheme: ``s3://bucket/prefix`` (boto3,
imported only then), a folder path or ``file:///path``.  Every backend passes
tests/test_remote_storage.py, one conformance suite run against both.
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from ...errors import UsageError
from .base import Storage, check_key

__all__ = ["Storage", "check_key", "open_storage"]


def open_storage(url: str) -> Storage:
    """The storage a remote's storage URL names.  Credentials, region and endpoint of an
    ``s3://`` URL come from boto3's own chain (``AWS_ENDPOINT_URL`` included), never the URL."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"invalid storage URL {url!r}", "give s3://bucket/prefix, a folder path or file:///path")
    if url.startswith("s3://"):
        from .s3 import S3Storage
        return S3Storage(url)
    if url.startswith("file://"):
        u = urlparse(url)
        if u.netloc not in ("", "localhost"):
            raise UsageError(f"file:// storage URL {url!r} names a host",
                             "use file:///absolute/path (three slashes) or a plain folder path")
        from .folder import FolderStorage
        return FolderStorage(unquote(u.path))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise UsageError(f"unsupported storage URL scheme {scheme}:// in {url!r}",
                         "storage URLs are s3://bucket/prefix, a folder path or file:///path")
    from .folder import FolderStorage
    return FolderStorage(os.path.abspath(os.path.expanduser(url)))
