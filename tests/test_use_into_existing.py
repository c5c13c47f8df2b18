"""`use`/`download` into a folder that already holds things: the version's files
land there and everything else stays, the store above all (W&B's download
semantics; mvc never deletes what it did not create)."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

import mvc
from mvc.cli.main import cli
from mvc.errors import IntegrityError
from mvc.repo import Repository


def test_use_into_the_project_root_keeps_the_store_and_sources(project, model_dir):
    (project / "notes.txt").write_text("keep me")
    with mvc.init() as run:
        run.log_model(str(model_dir), name="net")
    r = CliRunner().invoke(cli, ["-q", "use", "net", "-o", "."])
    assert r.exit_code == 0, r.output
    assert (project / "notes.txt").read_text() == "keep me"
    assert (project / "model_dir" / "weights.bin").exists()
    assert (project / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()
    assert mvc.Api().artifact("net:v0").version == "v0"      # the store is intact and usable
    assert Repository.find(str(project)).verify(mvc.Api().artifact("net:v0")._info) == []


def test_use_twice_into_one_folder_and_an_include_keep_other_files(project, model_dir):
    with mvc.init() as run:
        run.log_model(str(model_dir), name="net")
    out = project / "out"
    with mvc.init() as run:
        run.use_model("net", root=str(out))
        (out / "mine.txt").write_text("mine")
        run.use_model("net", root=str(out), include=["config.json"])
    assert (out / "mine.txt").read_text() == "mine"
    assert sorted(os.listdir(out)) == ["config.json", "mine.txt", "tokenizer", "weights.bin"]


def test_a_manifest_path_into_the_store_is_refused(project, model_dir):
    """A log of a folder skips its .mvc/; a draft (or another client) can still name one."""
    (model_dir / "evil-head").write_text("ref: refs/heads/evil\n")
    draft = mvc.Artifact("net", "model")
    draft.add_dir(str(model_dir))
    draft.add_file(str(model_dir / "evil-head"), name=".mvc/HEAD")
    with mvc.init() as run:
        run.log_artifact(draft)
    assert ".mvc/HEAD" in [f.path for f in mvc.Api().artifact("net:v0").files()]
    head = (project / ".mvc" / "HEAD").read_bytes()
    with pytest.raises(IntegrityError, match="inside the store"):
        mvc.Api().artifact("net:v0").download(str(project))
    assert (project / ".mvc" / "HEAD").read_bytes() == head
    assert not (project / "weights.bin").exists()             # refused before any write


@pytest.mark.parametrize("where", ["folder", "file"])
def test_a_symlink_in_the_target_into_the_store_is_refused(project, model_dir, where):
    """A link in the target that leads into the store: a folder on the way to a file,
    or the file's own name. Refused before any write, the store untouched."""
    with mvc.init() as run:
        run.log_model(str(model_dir), name="net")
    out = project / "out"
    out.mkdir()
    if where == "folder":
        os.symlink(project / ".mvc", out / "tokenizer")  # the version has tokenizer/...
    else:
        os.symlink(project / ".mvc" / "HEAD", out / "weights.bin")
    head = (project / ".mvc" / "HEAD").read_bytes()
    with pytest.raises(IntegrityError, match="inside the store"):
        mvc.Api().artifact("net:v0").download(str(out))
    assert (project / ".mvc" / "HEAD").read_bytes() == head
    assert sorted(os.listdir(out)) == (["tokenizer"] if where == "folder" else ["weights.bin"])
