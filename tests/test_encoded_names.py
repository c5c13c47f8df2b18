"""End to end: names git would refuse or fold together, and files whose names git or a
filesystem would misread, go through log, ls, show, use and --json unchanged, as the CLI
and the API give them; the store they leave passes the real `git fsck --strict` (issue 10,
part 2; docs/format.md, "Refs" and "Artifact tree")."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli
from mvc.meta import refs

NAMES = ["model.lock", "a..b", "x.", "Model", "model"]   # allowed by SPEC's name rules
FILES = {"~tmp": b"t", "key:value.txt": b"k", "50%.txt": b"p", ".hidden": b"h", "sub/.env": b"e",
         "sub/%41.bin": b"a", "Tokenizer.json": b"j", "GIT~2": b"g"}


def cli_run(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, (res.output, res.stderr, res.exception)
    return res.output


@pytest.fixture
def folder(project):
    src = project / "src"
    for rel, data in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return src


def _git_fsck(project) -> None:
    if shutil.which("git") is None:
        pytest.skip("no git binary")
    p = subprocess.run(["git", "--git-dir", str(project / ".mvc"), "fsck", "--strict", "--no-dangling"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def _refnames(project) -> list[str]:
    p = subprocess.run(["git", "--git-dir", str(project / ".mvc"), "for-each-ref", "--format=%(refname)",
                        "refs/mvc/proj/artifacts/"], capture_output=True, text=True, check=True)
    return p.stdout.split()


def test_cli_round_trip_of_names_and_paths(project, folder):
    for name in NAMES:
        cli_run("log", folder, "--name", name)
    listed = json.loads(cli_run("ls", "--json"))
    assert sorted(r["name"] for r in listed) == sorted(NAMES)
    table = cli_run("ls")
    for name in NAMES:
        assert f"\n{name} " in table
        (row,) = json.loads(cli_run("ls", name, "--json"))
        assert row["version"] == "v0"
        shown = json.loads(cli_run("show", f"{name}:v0", "--json"))
        assert sorted(f["path"] for f in shown["files"]) == sorted(FILES)
        assert all(p in cli_run("show", f"{name}:v0") for p in FILES)
    out = project / "out"
    cli_run("use", "model.lock", "-o", out)
    assert _files(out) == FILES
    _git_fsck(project)


def test_api_round_trip_and_registry_sources(project, folder):
    with mvc.init() as run:
        for name in NAMES:
            run.log_model(str(folder), name=name)
        used = run.use_model("a..b:latest", root=str(project / "used"))
    assert _files(used) == FILES
    api = mvc.Api()
    assert sorted(api.artifact_names()) == sorted(NAMES)
    for name in NAMES:
        art = api.artifact(f"{name}:v0")
        assert art.name == name and sorted(f.path for f in art.files()) == sorted(FILES)
    art = api.artifact("x.:v0")
    art.link("Reg.lock")
    art.link("Reg.lock")   # the registry's sources/ entry (project and name encoded) makes it a no-op
    rm = api.registered_model("Reg.lock")
    assert [li.address for li in rm.links()] == ["registry/Reg.lock:v0"] and rm.links()[0].source == "proj/x.:v0"
    got = api.artifact("registry/Reg.lock:latest").download(str(project / "got"))
    assert _files(got) == FILES
    _git_fsck(project)


def _files(root) -> dict[str, bytes]:
    import pathlib
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_names_differing_in_case_are_two_refs_even_case_insensitively(project, folder):
    (project / "one").write_bytes(b"1")
    (project / "two").write_bytes(b"2")
    cli_run("log", project / "one", "--name", "Model")
    cli_run("log", project / "two", "--name", "model")
    names = _refnames(project)
    assert refs.artifact("proj", "Model") in names and refs.artifact("proj", "model") in names
    assert len({n.casefold() for n in names}) == len(names) == 2
    api = mvc.Api()
    assert api.artifact("Model:v0").digest != api.artifact("model:v0").digest


def test_ref_names_git_refuses_are_encoded(project, folder):
    for name in ("model.lock", "a..b", "x."):
        cli_run("log", folder, "--name", name)
    assert sorted(_refnames(project)) == sorted(refs.artifact("proj", n) for n in ("model.lock", "a..b", "x."))
    assert "refs/mvc/proj/artifacts/model%2elock" in _refnames(project)
    _git_fsck(project)


def test_a_ref_not_in_mvc_encoding_is_left_out_of_listings_and_stops_gc(project, folder):
    """`refs/mvc/proj/artifacts/Model` (a format-1 name, or one made by hand) is no ref mvc wrote:
    listings leave it out, gc refuses to guess what it reaches, fsck names it."""
    from mvc.errors import FormatError
    from mvc.repo import Repository, gc
    from mvc.repo.fsck import fsck
    cli_run("log", folder, "--name", "Model")
    r = Repository.find(str(project))
    tip = r.meta.tip(refs.artifact("proj", "Model"))
    r.meta.git.references.create("refs/mvc/proj/artifacts/Model", tip.id)
    assert mvc.Api().artifact_names() == ["Model"]
    with pytest.raises(FormatError, match="refs/mvc/proj/artifacts/Model.*not in mvc's encoding"):
        gc.run(Repository.find(str(project)))
    rep = fsck(Repository.find(str(project)), git=False)
    assert any(p.kind == "bad-ref" and "not in mvc's encoding" in p.message for p in rep.problems)
