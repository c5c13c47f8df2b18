"""s3:// and http(s):// references: logged by identity (ETag, version id, Last-Modified,
size), downloaded and checked at use.  Against moto's standalone S3 server and a small
HTTP server, both on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading

import pytest

import mvc
from s3_server import make_bucket, s3_bucket, s3_env, s3_server  # noqa: F401  (pytest fixtures)

from mvc.errors import IntegrityError, InvalidInputError, NotFoundError
from mvc.store import references
from mvc.store.chunks import DirChunkStore


def chunk_files(project) -> set[str]:
    root = project / ".mvc"
    return {os.path.join(d, n) for sub in ("chunks", "packs") for d, _, ns in os.walk(root / sub) for n in ns}


def put(bucket, key, data: bytes):
    import boto3
    return boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def pointer(art):
    (fi,) = art.files()
    return fi


def test_s3_object_reference_round_trip(project, s3_bucket):  # noqa: F811
    put(s3_bucket, "models/model.bin", b"weights v1")
    run = mvc.init()
    before = chunk_files(project)
    art = run.log_model(f"s3://{s3_bucket}/models/model.bin", name="R")
    fi = pointer(art)
    assert fi.reference == f"s3://{s3_bucket}/models/model.bin" and fi.size == 10
    assert chunk_files(project) == before  # a reference stores no bytes
    path = run.use_model("R", root=str(project / "out1"))
    assert open(path, "rb").read() == b"weights v1"
    mvc.Api().artifact("R").verify()
    again = run.log_model(f"s3://{s3_bucket}/models/model.bin", name="R")
    assert again.version == art.version  # same object, same identity: no new version


def test_a_changed_unversioned_object_is_an_integrity_error(project, s3_bucket):  # noqa: F811
    put(s3_bucket, "m.bin", b"original bytes")
    run = mvc.init()
    run.log_model(f"s3://{s3_bucket}/m.bin", name="R")
    put(s3_bucket, "m.bin", b"replaced bytes")  # same size, new ETag
    with pytest.raises(IntegrityError, match="changed since it was logged") as info:
        run.use_model("R", root=str(project / "out"))
    assert "verify=False" in info.value.hint
    assert not (project / "out").exists()
    with pytest.raises(IntegrityError):
        mvc.Api().artifact("R").verify()
    path = run.use_model("R", root=str(project / "out2"), verify=False)
    assert open(path, "rb").read() == b"replaced bytes"


def test_a_versioned_object_resolves_the_pinned_version_after_an_overwrite(project, s3_env):  # noqa: F811
    bucket = make_bucket(versioned=True)
    first = put(bucket, "ckpt/model.bin", b"logged version")
    run = mvc.init()
    run.log_model(f"s3://{bucket}/ckpt/model.bin", name="V")
    put(bucket, "ckpt/model.bin", b"a newer upload, longer")
    path = run.use_model("V", root=str(project / "out"))
    assert open(path, "rb").read() == b"logged version"
    (_, ptr), = mvc.Api().repo.entries(mvc.Api().artifact("V")._info)
    assert ptr.extra["version"] == first["VersionId"]


def test_a_prefix_expands_to_its_objects(project, s3_bucket):  # noqa: F811
    objects = {"data/train/a.bin": b"A" * 100, "data/train/sub/b.bin": b"B" * 7, "data/train/c.txt": b"C"}
    for k, v in objects.items():
        put(s3_bucket, k, v)
    put(s3_bucket, "data/train/folder/", b"")  # a console's folder marker: not a file
    put(s3_bucket, "data/other.bin", b"not under the prefix")
    run = mvc.init()
    art = run.log_artifact(f"s3://{s3_bucket}/data/train", name="ds", type="dataset")
    assert sorted(f.path for f in art.files()) == ["a.bin", "c.txt", "sub/b.bin"]
    path = run.use_artifact("ds").download(root=str(project / "out"))
    for k, v in objects.items():
        assert open(os.path.join(path, k[len("data/train/"):]), "rb").read() == v


def test_a_prefix_beyond_the_cap_is_a_clear_error(project, s3_bucket, monkeypatch):  # noqa: F811
    for i in range(5):
        put(s3_bucket, f"many/{i}.bin", b"x")
    with pytest.raises(InvalidInputError, match="more than 3 objects") as info:
        references.expand(f"s3://{s3_bucket}/many/", max_objects=3)
    assert "max_objects" in info.value.hint
    monkeypatch.setattr(references, "DEFAULT_MAX_OBJECTS", 4)
    run = mvc.init()
    with pytest.raises(InvalidInputError, match="more than 4 objects"):
        run.log_artifact(f"s3://{s3_bucket}/many", name="ds", type="dataset")
    assert len(references.expand(f"s3://{s3_bucket}/many/", max_objects=5)) == 5


def test_a_hostile_key_under_a_prefix_is_refused(project, s3_bucket):  # noqa: F811
    put(s3_bucket, "p/ok.bin", b"x")
    put(s3_bucket, "p/../../etc/evil", b"x")
    put(s3_bucket, "p2/.git/config", b"x")
    with pytest.raises(InvalidInputError, match="cannot be a file"):
        references.expand(f"s3://{s3_bucket}/p/")
    with pytest.raises(InvalidInputError, match=".git"):
        references.expand(f"s3://{s3_bucket}/p2")


def test_multipart_etags_are_opaque_identities(project, s3_bucket):  # noqa: F811
    import boto3
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(11 << 20)
    src = project / "big.bin"
    src.write_bytes(data)
    boto3.client("s3").upload_file(str(src), s3_bucket, "big.bin",
                                   Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    run = mvc.init()
    run.log_model(f"s3://{s3_bucket}/big.bin", name="B")
    repo = mvc.Api().repo
    (_, ptr), = repo.entries(mvc.Api().artifact("B")._info)
    assert ptr.extra["etag"].endswith("-3")  # not an MD5 of anything mvc could compute
    assert ptr.extra["etag"] != hashlib.md5(data).hexdigest()
    path = run.use_model("B", root=str(project / "out"))
    assert open(path, "rb").read() == data


def test_a_missing_object_is_not_found(project, s3_bucket):  # noqa: F811
    run = mvc.init()
    with pytest.raises(NotFoundError, match="no object"):
        run.log_model(f"s3://{s3_bucket}/nothing/here.bin", name="R")
    put(s3_bucket, "gone.bin", b"x")
    run.log_model(f"s3://{s3_bucket}/gone.bin", name="G")
    import boto3
    boto3.client("s3").delete_object(Bucket=s3_bucket, Key="gone.bin")
    with pytest.raises(NotFoundError, match="does not exist"):
        run.use_model("G", root=str(project / "out"))


def test_checksum_false_records_the_uri_alone(tmp_path, s3_bucket):  # noqa: F811
    put(s3_bucket, "live.bin", b"today")
    uri = f"s3://{s3_bucket}/live.bin"
    ((name, ptr),) = references.expand(uri, checksum=False)
    assert name == "live.bin" and ptr.ref == uri and ptr.size == 0 and ptr.extra == {"checksum": False}
    assert references.expand(uri, checksum=False)[0][1].digest == ptr.digest  # the URI is the identity
    put(s3_bucket, "live.bin", b"tomorrow, longer")
    from mvc.store.materialise import materialise
    store = DirChunkStore(str(tmp_path / "store"))
    out = materialise(store, [(name, ptr)], str(tmp_path / "out"))
    assert open(os.path.join(out, "live.bin"), "rb").read() == b"tomorrow, longer"
    with pytest.raises(InvalidInputError, match="not a prefix"):
        references.expand(f"s3://{s3_bucket}/dir/", checksum=False)


def test_checksum_false_through_a_draft_follows_the_object(project, s3_bucket):  # noqa: F811
    """W&B's add_reference(uri, checksum=False): the URI alone is the identity, so a use takes the
    object as it is then; the default (checksum=True) refuses the changed object."""
    put(s3_bucket, "live.bin", b"today")
    uri = f"s3://{s3_bucket}/live.bin"
    loose, strict = mvc.Artifact("loose", "model"), mvc.Artifact("strict", "model")
    loose.add_reference(uri, checksum=False)
    strict.add_reference(uri)
    with mvc.init() as run:
        run.log_artifact(loose)
        run.log_artifact(strict)
    assert pointer(mvc.Api().artifact("loose:v0")).size == 0  # nothing recorded but the URI
    put(s3_bucket, "live.bin", b"tomorrow, longer")
    with mvc.init() as run:
        path = run.use_model("loose:v0", root=str(project / "loose"))
        assert open(path, "rb").read() == b"tomorrow, longer"
        with pytest.raises(IntegrityError, match="changed since it was logged"):
            run.use_model("strict:v0", root=str(project / "strict"))
    assert not (project / "strict").exists()


# ---- http(s) -------------------------------------------------------------------------
class Handler(http.server.SimpleHTTPRequestHandler):
    """Files from a folder; ``mode`` picks the validators the server sends."""
    mode = "last-modified"

    def log_message(self, *args):
        pass

    def end_headers(self):
        if self.mode == "etag" and self.command in ("GET", "HEAD"):
            path = self.translate_path(self.path)
            if os.path.isfile(path):
                self.send_header("ETag", '"' + hashlib.sha256(open(path, "rb").read()).hexdigest()[:16] + '"')
        super().end_headers()

    def send_header(self, keyword, value):
        if self.mode in ("etag", "none") and keyword == "Last-Modified":
            return
        super().send_header(keyword, value)


@pytest.fixture(params=["last-modified", "etag", "none"])
def http_root(request, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = type("H", (Handler,), {"mode": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             lambda *a: handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", request.param
    server.shutdown()
    server.server_close()


def test_http_reference_round_trip_and_change(project, http_root):
    root, base, mode = http_root
    (root / "model.bin").write_bytes(b"served weights")
    run = mvc.init()
    art = run.log_model(f"{base}/model.bin", name="H")
    assert pointer(art).size == 14
    (_, ptr), = mvc.Api().repo.entries(mvc.Api().artifact("H")._info)
    assert {"last-modified": "mtime", "etag": "etag", "none": "check"}[mode] in ptr.extra
    path = run.use_model("H", root=str(project / "out"))
    assert open(path, "rb").read() == b"served weights"
    (root / "model.bin").write_bytes(b"served WEIGHTS")
    os.utime(root / "model.bin", (1_000_000_000, 1_000_000_000))  # Last-Modified moves to 2001
    with pytest.raises(IntegrityError, match="changed since it was logged"):
        run.use_model("H", root=str(project / "out2"))
    assert not (project / "out2").exists()
    path = run.use_model("H", root=str(project / "out3"), verify=False)
    assert open(path, "rb").read() == b"served WEIGHTS"


def test_http_missing_is_not_found(project, http_root):
    _, base, _ = http_root
    run = mvc.init()
    with pytest.raises(NotFoundError, match="404"):
        run.log_model(f"{base}/absent.bin", name="H")
    with pytest.raises(InvalidInputError, match="names none"):
        references.expand(f"{base}/folder/")


def test_unknown_schemes_stay_refused(project):
    with pytest.raises(InvalidInputError, match="gs://"):
        mvc.init().log_model("gs://bucket/model.bin", name="S")
