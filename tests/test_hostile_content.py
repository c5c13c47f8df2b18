"""Issue 10, part 5: hostile content cannot hurt the user who pulls it.

Each hostile store is built as an attacker would: git objects written straight into
the store's bare repository with pygit2 (raw tree objects where libgit2's TreeBuilder
refuses a name, such as `.git`), and the artifact ref moved to a commit that looks
like mvc's own.  The attacker recomputes the version's digest unless the test is
about the digest, so each case is refused for its own reason.
"""
from __future__ import annotations

import json
import os
import subprocess

import pygit2
import pytest
from click.testing import CliRunner

from conftest import snapshot_tree
from mvc.errors import IntegrityError, InvalidInputError
from mvc.meta import refs
from mvc.meta.codec import encode_path
from mvc.meta.layout import version_path
from mvc.paths import is_dotgit, path_problem
from mvc.repo.fsck import fsck
from mvc.repo.repository import artifact_digest
from mvc.store import Pointer
from reliability_kit import flip_byte

HOSTILE_CONFIG = b'[core]\n\tfsmonitor = "touch PWNED; false"\n'


# ---- the attacker's tools ---------------------------------------------------------
def _raw_tree(git: pygit2.Repository, files: dict) -> pygit2.Oid:
    """Folders of '/'-separated paths -> blob ids as raw tree objects, in git's order."""
    subs: dict[str, dict] = {}
    rows = []
    for path, oid in files.items():
        head, sep, rest = path.partition("/")
        if sep:
            subs.setdefault(head, {})[rest] = oid
        else:
            rows.append((head.encode("utf-8", "surrogateescape"), b"100644", oid))
    for head, sub in subs.items():
        rows.append((head.encode("utf-8", "surrogateescape"), b"40000", _raw_tree(git, sub)))
    rows.sort(key=lambda r: r[0] + (b"/" if r[1] == b"40000" else b""))
    raw = b"".join(mode + b" " + name + b"\0" + oid.raw for name, mode, oid in rows)
    return git.odb.write(pygit2.GIT_OBJECT_TREE, raw)


def _put(tb_base, git, name: str, oid, mode) -> pygit2.Oid:
    tb = git.TreeBuilder(str(tb_base.id)) if tb_base is not None else git.TreeBuilder()
    tb.insert(name, oid, mode)
    return tb.write()


def _put_path(git, tree, path: str, oid) -> pygit2.Oid:
    """``tree`` with the folder at '/'-separated ``path`` replaced by ``oid``, every folder on the way rewritten."""
    head, _, rest = path.partition("/")
    if rest:
        oid = _put_path(git, git[tree[head].id], rest, oid)
    return _put(tree, git, head, oid, pygit2.GIT_FILEMODE_TREE)


def plant(store, files: dict[str, bytes], name: str = "M", version: str = "v0", same_record: bool = False,
          encode: bool = True):
    """Rewrite ``name:version`` so its files are ``files`` (path -> pointer blob).  Its
    version.json is kept as it was (``same_record``) or given the digest of the new files.
    The paths are stored as format 2 writes them (``encode``: codec.encode_path, so that what
    is refused is the path itself), or raw, as no mvc writes them."""
    git = store.meta.git
    refname = refs.artifact("proj", name)
    tip = git.references[refname].peel(pygit2.Commit)
    vtree = store.meta.subtree(tip.tree, version_path(version))
    record = json.loads(git[vtree["version.json"].id].data)
    if not same_record:
        record["digest"] = artifact_digest([(p, Pointer.decode(b)) for p, b in files.items()])
    files_tree = _raw_tree(git, {(encode_path(p) if encode else p): git.create_blob(b) for p, b in files.items()})
    new_v = _put(vtree, git, "files", files_tree, pygit2.GIT_FILEMODE_TREE)
    new_v = _put(git[new_v], git, "version.json",
                 git.create_blob(json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"),
                 pygit2.GIT_FILEMODE_BLOB)
    root = _put_path(git, tip.tree, version_path(version), new_v)
    sig = pygit2.Signature("tester", "tester@example.com")
    msg = f"log {name}:{version}\n\nMvc-Op: log\nMvc-Version: {version}\nMvc-Digest: {record['digest']}\n"
    git.create_commit(refname, sig, sig, msg, root, [tip.id])


def _pointers(store, src, name: str = "M") -> dict[str, bytes]:
    """Log ``src`` as ``name``: its pointer blobs by path, the attacker's raw material."""
    v = store.log(str(src), name, "model", "proj").version
    return {p: ptr.encode() for p, ptr in store.entries(v)}


def _version(store, name: str = "M"):
    store._last_entries = None
    return store.resolve(f"proj/{name}:v0")[0]


@pytest.fixture
def material(store, project):
    """A sound version M:v0 of weights.bin, and a pointer to a hostile git config."""
    src = project / "src"
    src.mkdir()
    (src / "weights.bin").write_bytes(os.urandom(3000))
    ptrs = _pointers(store, src)
    (project / "config").write_bytes(HOSTILE_CONFIG)
    ptrs["config"] = _pointers(store, project / "config", "C")["config"]
    return ptrs


def _work_tree(project):
    work = project / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    return work


def _labels(rep, kind):
    return [p.versions for p in rep.problems if p.kind == kind]


# ---- 1. a `.git` in any spelling git refuses ----------------------------------------
DOTGIT = [".git", ".GIT", ".Git", ".git.", ".git ", ".git. . ", "git~1", "GIT~1", ".git::$INDEX_ALLOCATION",
          ".git:stream", ".g\u200cit", "\ufeff.git", ".git\u200d", ".gi\u206at"]
NOT_DOTGIT = [".gitignore", ".github", ".gitmodules", "git", "a.git", ".gitx", "git~2", ".git~1", "..git", "x.git."]


@pytest.mark.parametrize("part", DOTGIT)
def test_dotgit_spellings_are_refused_by_the_path_rule(part):
    assert is_dotgit(part)
    assert "git" in path_problem(f"{part}/config") and "git" in path_problem(f"a/{part}/hooks/post-checkout")


@pytest.mark.parametrize("part", NOT_DOTGIT)
def test_names_like_dotgit_stay_allowed(part):
    assert not is_dotgit(part) and path_problem(f"{part}/x") is None


@pytest.mark.parametrize("path", [f"{p}/config" for p in DOTGIT] + [".git/hooks/post-checkout", "sub/.git/config"])
def test_use_refuses_a_dotgit_path_before_writing_into_a_git_work_tree(store, project, material, path):
    plant(store, {"weights.bin": material["weights.bin"], path: material["config"]})
    work = _work_tree(project)
    before = snapshot_tree(work)
    with pytest.raises(IntegrityError, match="git"):
        store.download(_version(store), str(work))
    assert snapshot_tree(work) == before                  # not a byte: .git/config as it was, no temp folder
    rep = fsck(store, git=False)
    assert ["proj/M:v0"] in _labels(rep, "bad-path")


def test_cli_use_of_a_logged_git_clone_cannot_plant_a_git_config(store, project, material):
    plant(store, {"weights.bin": material["weights.bin"], ".git/config": material["config"],
                  ".git/hooks/post-checkout": material["config"]})
    from mvc.cli import cli
    work = _work_tree(project)
    config = (work / ".git" / "config").read_bytes()
    res = CliRunner().invoke(cli, ["use", "M:v0", "-o", str(work)], env={"MVC_DIR": store.path, "MVC_PROJECT": "proj"})
    assert res.exit_code == 5 and ".git" in res.output
    assert (work / ".git" / "config").read_bytes() == config
    subprocess.run(["git", "status"], cwd=str(work), capture_output=True)
    assert not (work / "PWNED").exists() and not (work / "weights.bin").exists()


def test_cli_fsck_names_the_version_git_fsck_complains_about(store, project, material):
    plant(store, {"weights.bin": material["weights.bin"], ".git/config": material["config"]}, encode=False)
    rep = fsck(store)
    git = [p for p in rep.problems if p.kind == "git-fsck"]
    assert git and "hasDotgit" in git[0].message and git[0].versions == ["proj/M:v0"]
    assert "mvc delete proj/M:v0" in git[0].fix
    from mvc.cli.commands.fsck import command as fsck_cmd
    res = CliRunner().invoke(fsck_cmd, [], env={"MVC_DIR": store.path, "MVC_PROJECT": "proj"})
    assert res.exit_code == 5 and "proj/M:v0" in res.output and ".git" in res.output


@pytest.mark.parametrize("count", [3, 20])   # loose git objects, and a git pack written by mvc itself
def test_log_of_a_git_clone_leaves_its_dotgit_out(store, project, count):
    """Issue 11: a clone's .git (and any spelling git takes for it) is skipped with a note, so no
    version ever holds a path git refuses; the files beside it are logged."""
    src = project / "clone"
    (src / ".git" / "hooks").mkdir(parents=True)
    (src / ".git" / "config").write_bytes(HOSTILE_CONFIG)
    (src / "sub" / ".GIT").mkdir(parents=True)
    (src / "sub" / ".GIT" / "config").write_bytes(HOSTILE_CONFIG)
    for i in range(count):
        (src / f"f{i}.txt").write_text(str(i))
    res = store.log(str(src), "G", "model", "proj")
    assert res.files == count and [s.path for s in res.skipped] == [".git/", "sub/.GIT/"]
    assert all(not any(map(is_dotgit, p.split("/"))) for p, _ in store.entries(res.version))


# ---- 2. swapped pointers under a sound record --------------------------------------
def test_swapped_entries_are_refused_by_use_verify_and_fsck(store, project):
    src = project / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"the real a\n")
    (src / "b.txt").write_bytes(b"the real b, a different size\n")
    ptrs = _pointers(store, src)
    plant(store, {"a.txt": ptrs["b.txt"], "b.txt": ptrs["a.txt"]}, same_record=True)
    v = _version(store)
    for include in (None, ["a.txt"]):
        with pytest.raises(IntegrityError, match="proj/M:v0.*do not match its digest"):
            store.download(v, str(project / "out"), include=include)
        assert not (project / "out").exists()
    with pytest.raises(IntegrityError, match="proj/M:v0"):
        store.verify(v)
    import mvc
    with pytest.raises(IntegrityError, match="proj/M:v0"):
        mvc.Api().artifact("M:v0").verify()
    from mvc.cli import cli
    res = CliRunner().invoke(cli, ["verify", "M:v0"], env={"MVC_DIR": store.path, "MVC_PROJECT": "proj"})
    assert res.exit_code == 5 and "proj/M:v0" in res.output
    rep = fsck(store, git=False)
    assert not rep.ok and _labels(rep, "bad-digest") == [["proj/M:v0"]]


# ---- 3. control characters, backslashes, case collisions ------------------------------
@pytest.mark.parametrize("paths,what", [
    (["A.txt", "a.txt"], "collide"),
    (["Dir/x", "dir"], "both a file and a folder"),
    (["a\\b.txt"], "backslash"),
    (["a\nb.txt"], "U\\+000A"),
    (["tab\there"], "U\\+0009"),
    (["del\x7f"], "U\\+007F"),
    (["c1\x85"], "U\\+0085"),
])
def test_fsck_and_use_refuse_paths_no_filesystem_reads_plainly(store, project, material, paths, what):
    plant(store, {p: material["weights.bin"] for p in paths})
    v = _version(store)
    rep = fsck(store, git=False)
    bad = [p for p in rep.problems if p.kind == "bad-path"]
    assert bad and bad[0].versions == ["proj/M:v0"] and bad[0].severity == "error"
    with pytest.raises(IntegrityError, match=what):
        store.download(v, str(project / "out"))
    assert not (project / "out").exists()
    assert any(what.replace("\\", "") in p for p in store.verify(v))


@pytest.mark.parametrize("encode,kind", [(True, "bad-path"), (False, "bad-pointer")])
def test_a_path_that_is_not_utf8_is_refused(store, project, material, encode, kind):
    """The byte 0xff of a file name, stored as format 2 writes it (``bad%ff.bin``: the path rule
    refuses it) or raw (not mvc's encoding: refused when the tree is read)."""
    plant(store, {"weights.bin": material["weights.bin"], "bad\udcff.bin": material["weights.bin"]}, encode=encode,
          same_record=True)  # its digest cannot be computed: a path that is not UTF-8
    with pytest.raises(IntegrityError, match="proj/M:v0"):
        store.download(_version(store), str(project / "out"))
    assert not (project / "out").exists()
    assert ["proj/M:v0"] in _labels(fsck(store, git=False), kind)


@pytest.mark.parametrize("raw", [".git/config", "a:b.txt", "~tmp", "50%.txt", "x%2Ey", "%41", "sub/%", "sub/%zz",
                                 "dir/.hidden", "tab\there"])
def test_names_not_in_mvc_encoding_are_refused_before_any_write(store, project, material, raw):
    """A tree entry mvc could not have written (a character left unescaped, upper-case hex, an
    escape of a character written as itself) is refused by use, verify and fsck, naming the version."""
    plant(store, {"weights.bin": material["weights.bin"], raw: material["weights.bin"]}, encode=False)
    v = _version(store)
    with pytest.raises(IntegrityError, match="proj/M:v0.*not in mvc's encoding"):
        store.download(v, str(project / "out"))
    assert not (project / "out").exists()
    with pytest.raises(IntegrityError, match="proj/M:v0"):
        store.verify(v)
    assert ["proj/M:v0"] in _labels(fsck(store, git=False), "bad-pointer")


@pytest.mark.parametrize("names,what", [
    (["a\nb.txt"], "U\\+000A"), (["del\x7f.bin"], "U\\+007F"), (["c1\x85.bin"], "U\\+0085"),
    (["esc\x1b[31m.bin"], "U\\+001B"), (["a\\b.txt"], "backslash"), (["A.txt", "a.txt"], "collide"),
])
def test_log_refuses_paths_use_would_refuse(store, project, names, what):
    src = project / "src"
    src.mkdir()
    for n in names:
        (src / n).write_bytes(b"x")
    (src / "fine.bin").write_bytes(b"y")
    with pytest.raises(InvalidInputError, match=what) as ei:
        store.log(str(src), "M", "model", "proj")
    assert repr(names[0])[1:-1] in str(ei.value) or "collide" in what   # names the file, escaped
    assert not store.meta.refnames("refs/mvc/proj/artifacts/")
    if len(names) == 1:
        with pytest.raises(InvalidInputError, match=what):
            store.log(str(src / names[0]), "M", "model", "proj")      # a single file too


# ---- 4. a corrupt chunk: fsck sets it aside, a re-log writes it back ----------------------
def _flip_chunk_bytes(store, cid):
    path = store.chunks.path(cid)
    if os.path.exists(path):
        where, off = path, 0
    else:
        pack, off, _ = store.chunks.packs.locate(cid)
        where = store.chunks.packs.path(pack, "pack")
    flip_byte(where, off, 0x20)


@pytest.mark.parametrize("layout", ["loose", "packed"])
def test_relog_after_fsck_repairs_a_corrupt_chunk(store, project, layout):
    src = project / "src"
    src.mkdir()
    if layout == "loose":
        (src / "weights.bin").write_bytes(os.urandom(300_000))
    else:
        for i in range(12):
            (src / f"part{i:02d}.bin").write_bytes(os.urandom(2000))
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    v = store.log(str(src), "M", "model", "proj").version
    victim = next(cid for _, ptr in store.entries(v) for cid, _ in ptr.chunks)
    assert store.chunks.is_loose(victim) == (layout == "loose")
    _flip_chunk_bytes(store, victim)
    before = snapshot_tree(store.path)
    (prob,) = fsck(store, git=False).problems                         # a plain fsck only reports
    assert prob.kind == "corrupt-chunk" and prob.versions == ["proj/M:v0"]
    assert prob.fix.startswith("run `mvc fsck --repair` to set its bytes aside, then re-log")
    assert snapshot_tree(store.path, meta=False) == {k: v[0] for k, v in before.items()}
    (prob,) = fsck(store, git=False, quarantine=True).problems        # the advice: --repair, then re-log
    assert prob.fix.startswith("re-log the original files")
    res = store.log(str(src), "M", "model", "proj")
    assert not res.created and res.version.version == "v0"
    out = project / "out"
    store.download(res.version, str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    assert store.verify(res.version) == [] and fsck(store).ok
    assert "set aside" in prob.message and os.listdir(os.path.join(store.path, "quarantine"))  # kept, not deleted


def test_a_chunk_set_aside_is_named_as_corrupt_until_it_is_written_back(store, project):
    src = project / "weights.bin"
    src.write_bytes(os.urandom(300_000))
    v = store.log(str(src), "M", "model", "proj").version
    victim = store.entries(v)[0][1].chunks[0][0]
    _flip_chunk_bytes(store, victim)
    assert not fsck(store, git=False, quarantine=True).ok
    with pytest.raises(IntegrityError, match="set its bytes aside") as ei:   # not "missing": it was corrupt
        store.download(v, str(project / "out"))
    assert "re-log" in ei.value.hint and not (project / "out").exists()
    (again,) = fsck(store, git=False).problems
    assert again.versions == ["proj/M:v0"] and "set its corrupt bytes aside" in again.message
