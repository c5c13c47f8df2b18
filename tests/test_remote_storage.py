"""One conformance suite for every remote storage backend: a folder and S3 (moto's
standalone server on 127.0.0.1, reached through boto3's own configuration chain)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from s3_server import s3_bucket, s3_env, s3_server  # noqa: F401  (pytest fixtures)

from mvc.errors import NotFoundError, RemoteError, UsageError
from mvc.remote.storage import open_storage


@pytest.fixture(params=["folder", "s3"])
def storage_url(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "remote-bytes")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/team/models"


@pytest.fixture
def storage(storage_url):
    return open_storage(storage_url)


def raw_write(storage, key: str, data: bytes) -> None:
    """Replace an object behind the backend's back (what a damaged or hostile remote does)."""
    if storage.url.startswith("s3://"):
        storage.client.put_object(Bucket=storage.bucket, Key=storage.key(key), Body=data)
    else:
        path = storage.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.chmod(path, 0o644)
        with open(path, "wb") as f:
            f.write(data)


def test_put_is_create_only(storage):
    assert storage.put("chunks/ab/one", b"first") is True
    assert storage.put("chunks/ab/one", b"second") is False
    assert storage.get("chunks/ab/one") == b"first"
    assert storage.exists("chunks/ab/one")
    assert not storage.exists("chunks/ab/two")


def test_put_from_a_path_and_get_to_a_file(storage, tmp_path):
    src = tmp_path / "src.bin"
    data = os.urandom(3 << 20)
    src.write_bytes(data)
    assert storage.put("blobs/src", str(src)) is True
    assert storage.put("blobs/src", src) is False  # os.PathLike too
    out = tmp_path / "out.bin"
    storage.get_to("blobs/src", str(out))
    assert out.read_bytes() == data
    assert storage.get_range("blobs/src", 1000, 10) == data[1000:1010]
    assert storage.get_range("blobs/src", len(data) - 4, 10) == data[-4:]  # a short read is the caller's to see
    assert storage.get_range("blobs/src", len(data) + 10, 10) == b""


def test_memoryview_and_bytearray_bodies(storage):
    assert storage.put("a/view", memoryview(b"xyz")) is True
    assert storage.put("a/array", bytearray(b"abc")) is True
    assert storage.get("a/view") == b"xyz" and storage.get("a/array") == b"abc"


def test_missing_keys_are_typed(storage, tmp_path):
    with pytest.raises(NotFoundError, match="packs/nothing.idx"):
        storage.get("packs/nothing.idx")
    with pytest.raises(NotFoundError):
        storage.get_range("packs/nothing.pack", 0, 10)
    with pytest.raises(NotFoundError):
        storage.get_to("packs/nothing.pack", str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()


def test_list_is_sorted_and_scoped_to_the_prefix(storage):
    for key in ("packs/b.idx", "packs/a.pack", "packs/a.idx", "chunks/00/x", "packsfoo/z"):
        storage.put(key, key.encode())
    assert list(storage.list("packs/")) == ["packs/a.idx", "packs/a.pack", "packs/b.idx"]
    assert list(storage.list("chunks/")) == ["chunks/00/x"]
    assert list(storage.list("nothing/")) == []
    assert "packsfoo/z" in list(storage.list(""))


def test_listing_skips_hostile_keys(storage):
    storage.put("packs/good.idx", b"x")
    if storage.url.startswith("s3://"):
        for bad in ("packs/../escape", "packs//double", "packs/with space"):
            storage.client.put_object(Bucket=storage.bucket, Key=storage.key("packs") + bad[5:], Body=b"x")
    else:
        os.makedirs(os.path.join(storage.root, "packs"), exist_ok=True)
        open(os.path.join(storage.root, "packs", "with space"), "wb").close()
        open(os.path.join(storage.root, "packs", ".hidden"), "wb").close()
    assert list(storage.list("packs/")) == ["packs/good.idx"]


@pytest.mark.parametrize("key", ["", "../x", "/abs", "a//b", "a/../b", "a/./b", "a/", "a b", "a\\b", "x" * 600])
def test_bad_keys_are_refused(storage, key):
    with pytest.raises(UsageError):
        storage.put(key, b"x")
    with pytest.raises(UsageError):
        storage.get(key)


def test_conditional_writes_probe_passes(storage):
    storage.check_conditional_writes()
    probes = list(storage.list("probes/"))
    assert len(probes) == 1  # the probe stays: nothing deletes from a remote


def test_conditional_writes_probe_catches_a_server_that_ignores_them(s3_bucket):  # noqa: F811
    """The probe against a real server whose requests lose If-None-Match on the way (as a
    proxy or an old MinIO would): the second write replaces the first, and the probe says so."""
    storage = open_storage(f"s3://{s3_bucket}/p")

    def strip_condition(request, **_):
        if "If-None-Match" in request.headers:
            del request.headers["If-None-Match"]

    storage.client.meta.events.register("before-sign.s3.PutObject", strip_condition)
    with pytest.raises(RemoteError, match="ignores conditional writes"):
        storage.check_conditional_writes()


def test_folder_never_leaves_temps_and_objects_are_read_only(tmp_path):
    storage = open_storage(str(tmp_path / "r"))
    storage.put("chunks/aa/b", b"data")
    assert os.listdir(tmp_path / "r" / "tmp") == []
    assert not os.access(storage.path("chunks/aa/b"), os.W_OK) or os.geteuid() == 0
    assert oct(os.stat(storage.path("chunks/aa/b")).st_mode & 0o777) == oct(0o444)
    with pytest.raises(RemoteError):
        storage.put("tmp/x", b"no")  # the temp folder is not a key space


RACE = textwrap.dedent("""
    import sys
    from mvc.remote.storage import open_storage
    s = open_storage(sys.argv[1])
    print("won" if s.put("race/key", sys.argv[2].encode() * 100000) else "lost", flush=True)
""")


def test_racing_writers_in_processes_one_wins(storage_url, storage):
    procs = [subprocess.Popen([sys.executable, "-c", RACE, storage_url, str(i)], stdout=subprocess.PIPE, text=True)
             for i in range(4)]
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert results.count("won") == 1, results
    winner = str(results.index("won"))
    assert storage.get("race/key") == winner.encode() * 100000


def test_s3_multipart_is_create_only_and_leaves_no_upload(s3_bucket):  # noqa: F811
    storage = open_storage(f"s3://{s3_bucket}")
    storage.multipart_threshold, storage.part_size = 8 << 20, 5 << 20
    data = os.urandom(12 << 20)
    sent = []
    storage.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    assert storage.put("big/object", data) is True
    assert sum("partNumber=" in u for u in sent) == 3
    assert storage.put("big/object", os.urandom(12 << 20)) is False
    assert storage.get("big/object") == data
    assert storage.client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_s3_prefixes_keep_remotes_apart(s3_bucket):  # noqa: F811
    a, b = open_storage(f"s3://{s3_bucket}/a"), open_storage(f"s3://{s3_bucket}/b/")
    assert b.url == f"s3://{s3_bucket}/b"
    a.put("packs/x.idx", b"a")
    assert list(b.list("packs/")) == [] and not b.exists("packs/x.idx")
    assert b.put("packs/x.idx", b"b") is True
    assert a.get("packs/x.idx") == b"a"


def test_s3_missing_bucket_is_a_remote_error(s3_env):  # noqa: F811
    storage = open_storage("s3://no-such-bucket-mvc/x")
    with pytest.raises(RemoteError, match="no-such-bucket-mvc"):
        storage.put("k", b"x")
    with pytest.raises(RemoteError):
        list(storage.list("packs/"))


def test_s3_unreachable_endpoint_is_a_remote_error(monkeypatch, s3_env):  # noqa: F811
    from s3_server import free_port
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    storage = open_storage("s3://bucket-x/y")
    for call in (lambda: storage.exists("k"), lambda: storage.put("k", b"x"), lambda: storage.get("k"),
                 lambda: storage.get_range("k", 0, 5), lambda: list(storage.list("packs/"))):
        with pytest.raises(RemoteError, match="cannot"):
            call()


def test_open_storage_urls(tmp_path):
    assert open_storage(str(tmp_path / "x")).root == str(tmp_path / "x")
    assert open_storage(f"file://{tmp_path}/y").root == str(tmp_path / "y")
    for bad in ("ftp://host/x", "file://otherhost/x", "s3://UPPER/x", "s3://b/../x", "", "   "):
        with pytest.raises(UsageError):
            open_storage(bad)


def test_s3_url_records_no_credentials(s3_bucket):  # noqa: F811
    storage = open_storage(f"s3://{s3_bucket}/p")
    assert "testing" not in json.dumps(storage.url)
    assert storage.url == f"s3://{s3_bucket}/p"


def test_folder_storage_never_loads_boto3(tmp_path):
    code = ("import sys; from mvc.remote.storage import open_storage; import mvc.remote.transfer; "
            f"s = open_storage({str(tmp_path / 'r')!r}); s.put('a/b', b'x'); s.check_conditional_writes(); "
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 loaded'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
