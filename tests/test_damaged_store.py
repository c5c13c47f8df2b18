"""Issue 9, no silent re-initialisation: a store that lost its mvc-format.json, or git's HEAD,
is refused by every command (CLI and Python) with an IntegrityError (exit 5) that says what
is missing and how to put it back, and nothing in the project folder changes.  A store
skeleton without data (an init cut short before its format file) is still initialised."""
from __future__ import annotations

import pygit2
import pytest
from click.testing import CliRunner

import mvc
from mvc.cli.main import cli
from mvc.errors import IntegrityError, NotFoundError
from conftest import snapshot_tree
from test_reliability_format_cli import INVOCATIONS

FORMAT_BYTES = '{"features":[],"format":2}'


@pytest.fixture
def populated(project, model_file):
    with mvc.init() as run:
        run.log_model(str(model_file), name="M", aliases=["best"])
        run.link_model(str(model_file), "Reg", name="M", aliases=["prod"])
        run_id = run.id
    return project, run_id


def _damage(project, what: str) -> str:
    """Remove the store's format file or HEAD; return the words every refusal must say."""
    store = project / ".mvc"
    if what == "format file":
        (store / "mvc-format.json").unlink()
        return FORMAT_BYTES
    (store / "HEAD").unlink()
    return "ref: refs/heads/master"


@pytest.mark.parametrize("what", ["format file", "HEAD"])
def test_every_command_refuses_a_damaged_store_untouched(populated, what):
    project, run_id = populated
    repair = _damage(project, what)
    before = snapshot_tree(project)
    for key, argv in INVOCATIONS.items():
        argv = [run_id if a == "RUN" else a for a in argv]
        res = CliRunner().invoke(cli, argv)
        assert res.exit_code == 5, f"mvc {' '.join(argv)}: exit {res.exit_code}\n{res.output}{res.exception!r}"
        assert res.stderr.startswith("mvc: error: ") and "Traceback" not in res.stderr, key
        assert "is missing" in res.stderr or "has no HEAD" in res.stderr, key
        assert repair in res.stderr, key  # the hint gives the exact content to write back
        assert snapshot_tree(project) == before, f"mvc {' '.join(argv)} changed the project folder"


@pytest.mark.parametrize("what", ["format file", "HEAD"])
def test_python_entry_points_refuse_a_damaged_store_untouched(populated, what, monkeypatch):
    from mvc.repo import Repository
    project, _ = populated
    repair = _damage(project, what)
    store = str(project / ".mvc")
    calls = [lambda: Repository(store), lambda: Repository.find(str(project)), lambda: mvc.Api(),
             lambda: mvc.Api(dir=str(project)), lambda: mvc.Api(dir=store), lambda: mvc.init(),
             lambda: mvc.init(dir=store), lambda: mvc.init(dir=str(project), config={"a": 1})]
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")  # found from below, too
    before = snapshot_tree(project)
    for call in calls:
        with pytest.raises(IntegrityError) as ei:
            call()
        assert repair in ei.value.hint
    monkeypatch.setenv("MVC_DIR", store)
    with pytest.raises(IntegrityError):
        mvc.init()
    assert snapshot_tree(project) == before


def test_repair_as_the_hint_says_restores_the_store(populated):
    project, _ = populated
    store = project / ".mvc"
    _damage(project, "format file")
    (store / "mvc-format.json").write_text(FORMAT_BYTES + "\n")
    _damage(project, "HEAD")
    (store / "HEAD").write_text("ref: refs/heads/master\n")
    assert mvc.Api().artifact("M:best").version == "v0"
    res = CliRunner().invoke(cli, ["fsck"])
    assert res.exit_code == 0, res.output


def test_a_store_skeleton_without_data_is_initialised(project):
    """create_store writes the format file last: a crash before it leaves no data, and
    finishing the init then loses nothing."""
    store = project / ".mvc"
    pygit2.init_repository(str(store), bare=True)
    for sub in ("chunks", "tmp", "runs", "hooks"):
        (store / sub).mkdir(exist_ok=True)
    with pytest.raises(NotFoundError):
        mvc.Api()
    res = CliRunner().invoke(cli, ["init"])
    assert res.exit_code == 0 and "Initialized empty" in res.output, res.output
    assert (store / "mvc-format.json").read_text() == FORMAT_BYTES + "\n"


def test_folders_that_only_look_like_a_store_are_not_refused(project, model_file, monkeypatch):
    """A project's own chunks/ folder, or a bare git repository above it, is no damaged store."""
    (project / "chunks").mkdir()
    (project / "chunks" / "part-0").write_bytes(b"data")
    bare = project.parent / "bare.git"
    repo = pygit2.init_repository(str(bare), bare=True)
    repo.create_blob(b"x")
    with mvc.init() as run:
        assert run.log_model(str(model_file), name="M").version == "v0"
    assert (project / ".mvc" / "mvc-format.json").is_file()
    monkeypatch.chdir(bare)
    with pytest.raises(NotFoundError, match="no mvc store"):
        mvc.Api()
