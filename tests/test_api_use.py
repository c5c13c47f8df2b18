"""SPEC use_model / use_artifact / download."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import IntegrityError, InvalidInputError, NotFoundError


def _log(run, project, data: bytes, name="M", **kw):
    f = project / "m.bin"
    f.write_bytes(data)
    return run.log_model(str(f), name=name, **kw)


def _listing(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs)


def test_single_file_returns_file_path(project):
    run = mvc.init()
    _log(run, project, b"weights")
    path = run.use_model("M")
    assert path == os.path.join(str(project), "artifacts", "M:v0", "m.bin")
    assert open(path, "rb").read() == b"weights"


def test_directory_returns_folder(project, model_dir):
    run = mvc.init()
    run.log_model(str(model_dir), name="D")
    path = run.use_model("D:v0")
    assert path == os.path.join(str(project), "artifacts", "D:v0")
    assert _listing(path) == ["config.json", "tokenizer", "tokenizer/vocab.txt", "weights.bin"]
    assert open(os.path.join(path, "weights.bin"), "rb").read() == (model_dir / "weights.bin").read_bytes()


def test_env_artifact_dir_and_root(project, monkeypatch, tmp_path):
    run = mvc.init()
    _log(run, project, b"a")
    monkeypatch.setenv("MVC_ARTIFACT_DIR", str(tmp_path / "cache"))
    assert run.use_model("M") == str(tmp_path / "cache" / "M:v0" / "m.bin")
    assert run.use_model("M", root=str(tmp_path / "mine")) == str(tmp_path / "mine" / "m.bin")


def test_registry_address_uses_source_name(project):
    run = mvc.init()
    _log(run, project, b"a")
    a = _log(run, project, b"b")
    a.link("registry/Prod")
    path = run.use_model("registry/Prod:latest")
    assert path == os.path.join(str(project), "artifacts", "M:v1", "m.bin")
    ins = mvc.Api().run(run.id).inputs
    assert ins[-1]["version"] == "v1" and ins[-1]["via"] == "registry/Prod:v0"


def test_include_globs_partial(project, model_dir):
    run = mvc.init()
    run.log_model(str(model_dir), name="D")
    path = run.use_model("D", root=str(project / "part"), include=["*.json"])
    assert path == str(project / "part" / "config.json")
    assert _listing(project / "part") == ["config.json"]
    path = run.use_model("D", root=str(project / "part2"), include=["tokenizer/*", "*.bin"])
    assert _listing(path) == ["tokenizer", "tokenizer/vocab.txt", "weights.bin"]
    with pytest.raises(NotFoundError, match="matches"):
        run.use_model("D", root=str(project / "part3"), include=["*.onnx"])
    assert not (project / "part3").exists()


def test_dataset_through_use_model(project, model_dir):
    run = mvc.init()
    run.log_artifact(str(model_dir), name="data", type="dataset")
    with pytest.raises(InvalidInputError) as ei:
        run.use_model("data")
    assert "use_artifact" in ei.value.hint and "'dataset'" in ei.value.message
    assert mvc.Api().run(run.id).inputs == []  # the refused use is not recorded
    art = run.use_artifact("data", type="dataset")
    folder = art.download(str(project / "ds"))
    assert sorted(os.listdir(folder)) == ["config.json", "tokenizer", "weights.bin"]


def test_corrupt_chunk_named_and_nothing_left(project):
    run = mvc.init()
    a = _log(run, project, os.urandom(5000))
    chunk_dir = project / ".mvc" / "chunks"
    (fan,) = os.listdir(chunk_dir)
    (name,) = os.listdir(chunk_dir / fan)
    chunk = chunk_dir / fan / name
    chunk.chmod(0o644)
    data = bytearray(chunk.read_bytes())
    data[100] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as ei:
        run.use_model("M")
    assert "m.bin" in ei.value.message and "M:v0" in ei.value.message and "fsck" in ei.value.hint
    assert not (project / "artifacts").exists() or os.listdir(project / "artifacts") == []
    assert mvc.Api().run(run.id).inputs == []  # a failed use is not recorded as an input
    with pytest.raises(IntegrityError, match="m.bin"):
        a.verify()
    with pytest.raises(IntegrityError):
        mvc.Api().artifact("M").download(str(project / "x"))
    assert not (project / "x").exists()


def test_resolved_once_lineage_records_version_not_alias(project):
    run = mvc.init()
    _log(run, project, b"a", aliases=["best"])
    _log(run, project, b"b")
    with mvc.init() as consumer:
        consumer.use_model("M:best")
        consumer.use_model("M:latest")
    ins = mvc.Api().run(consumer.id).inputs
    assert [i["version"] for i in ins] == ["v0", "v1"]
    assert all(":" not in i["version"] for i in ins)
    used = mvc.Api().artifact("M:v0").used_by()
    assert [r.id for r in used] == [consumer.id]


def test_works_with_only_local_store(project, monkeypatch):
    run = mvc.init()
    _log(run, project, b"offline")
    for var in ("http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # any network use would fail
    assert open(run.use_model("M"), "rb").read() == b"offline"
    assert not (project / ".mvc" / "config").read_text().count("[remote")


def test_use_unknown_and_finished_run(project):
    run = mvc.init()
    with pytest.raises(NotFoundError):
        run.use_model("nothing")
    run.finish()
    with pytest.raises(InvalidInputError, match="finished"):
        run.use_model("nothing")


def test_artifact_file_and_download(project, model_dir):
    run = mvc.init()
    a = _log(run, project, b"single")
    assert open(a.file(str(project / "f")), "rb").read() == b"single"
    d = run.log_model(str(model_dir), name="D")
    with pytest.raises(InvalidInputError, match="3 files"):
        d.file()
    out = d.download(str(project / "dl"), include="*.txt")
    assert _listing(out) == ["tokenizer", "tokenizer/vocab.txt"]
    # downloading again over an existing folder replaces it whole
    out = d.download(str(project / "dl"))
    assert "weights.bin" in os.listdir(out)
    assert not [n for n in os.listdir(project) if ".tmp-" in n or ".old-" in n]
