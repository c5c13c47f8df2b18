"""fsck and verify: R6 (a flipped byte is detected, never materialised) and
R7 (deleted or truncated chunks: fsck names exactly the affected versions)."""
from __future__ import annotations

import os
import random

import pytest
from click.testing import CliRunner

from mvc.errors import IntegrityError, MvcError
from mvc.repo.fsck import fsck


def _log_many(store, project, n, shared=b""):
    vs = []
    for i in range(n):
        d = project / f"src{i}"
        d.mkdir()
        (d / "own.bin").write_bytes(os.urandom(5000))
        if shared:
            (d / "shared.bin").write_bytes(shared)
        vs.append(store.log(str(d), f"m{i}", "model", "proj").version)
    return vs


def _chunks_of(store, v):
    return {c for _, ptr in store.entries(v) for c, _ in ptr.chunks}


def test_clean_store_is_clean(store, project):
    _log_many(store, project, 2)
    rep = fsck(store)
    assert rep.ok and rep.git_checked and rep.versions == 2 and rep.chunks_hashed == rep.chunks_total


def _r7(store, project, trials, rng):
    vs = _log_many(store, project, 6, shared=os.urandom(4000))
    for _ in range(trials):
        victim = rng.choice(sorted(store.chunks.ids()))
        path = store.chunks.path(victim)
        data = open(path, "rb").read()
        os.chmod(path, 0o644)
        if rng.random() < 0.5:
            os.unlink(path)
        else:
            open(path, "wb").write(data[: rng.randrange(len(data))])
        expected = {f"{v.project}/{v.name}:{v.version}" for v in vs if victim in _chunks_of(store, v)}
        rep = fsck(store, git=False)
        assert rep.affected() == expected
        for p in rep.problems:
            assert p.object == victim and "mvc delete" in p.fix
        for v in vs:
            if f"{v.project}/{v.name}:{v.version}" not in expected:
                assert store.verify(v) == []                       # unaffected versions still usable
        if os.path.exists(path):
            os.unlink(path)
        with open(path, "wb") as f:
            f.write(data)                                          # repair for the next trial
        os.chmod(path, 0o444)


def test_r7_missing_or_truncated_chunks(store, project):
    _r7(store, project, 10, random.Random(1))


@pytest.mark.slow
def test_r7_missing_or_truncated_chunks_full(store, project):
    _r7(store, project, 100, random.Random(1))


def test_r6_flipped_chunk_byte(store, project):
    rng = random.Random(2)
    vs = _log_many(store, project, 3)
    for t in range(10):
        v = rng.choice(vs)
        cid = rng.choice(sorted(_chunks_of(store, v)))
        path = store.chunks.path(cid)
        good = open(path, "rb").read()
        bad = bytearray(good)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        os.chmod(path, 0o644)
        open(path, "wb").write(bytes(bad))
        target = project / f"out{t}"
        with pytest.raises(IntegrityError):
            store.download(v, str(target))
        assert not target.exists()                                 # 0 bad bytes materialised
        rep = fsck(store, git=False)
        assert [p.object for p in rep.problems] == [cid] and rep.problems[0].file == path
        open(path, "wb").write(good)
        assert fsck(store, git=False).ok


def test_r6_flipped_metadata_byte_found_by_git_fsck(store, project):
    v = _log_many(store, project, 1)[0]
    blob = next(iter(store.meta.walk_blobs(store.meta.git[v.tree])))[1]
    obj = os.path.join(store.path, "objects", str(blob)[:2], str(blob)[2:])
    data = bytearray(open(obj, "rb").read())
    data[len(data) // 2] ^= 0x40
    os.chmod(obj, 0o644)
    open(obj, "wb").write(bytes(data))
    rep = fsck(store)
    assert not rep.ok
    with pytest.raises(MvcError):
        store.download(store.resolve("m0:v0")[0], str(project / "o"))
    assert not (project / "o").exists()


def test_cli_fsck_and_verify_exit_codes(store, project):
    from mvc.cli.commands.fsck import command as fsck_cmd
    from mvc.cli.commands.verify import command as verify_cmd
    v = _log_many(store, project, 1)[0]
    env = {"MVC_DIR": store.path, "MVC_PROJECT": "proj"}
    assert CliRunner().invoke(fsck_cmd, ["--json"], env=env).exit_code == 0
    assert CliRunner().invoke(verify_cmd, ["m0:v0"], env=env).exit_code == 0
    cid = sorted(_chunks_of(store, v))[0]
    os.unlink(store.chunks.path(cid))
    res = CliRunner().invoke(fsck_cmd, [], env=env)
    assert res.exit_code == 5 and "proj/m0:v0" in res.output and "mvc delete proj/m0:v0" in res.output
    assert CliRunner().invoke(verify_cmd, ["m0:v0"], env=env).exit_code != 0


def test_a_problem_of_many_versions_names_a_few_in_text_and_all_in_json(store, project, monkeypatch):
    """A chunk shared by 5 versions goes missing: the text report names AFFECTS_SHOWN of them (3
    here; 20 by default) and says how many more; --json names all 5."""
    import json

    from mvc.repo import fsck as fsck_module
    monkeypatch.setattr(fsck_module, "AFFECTS_SHOWN", 3)
    vs = _log_many(store, project, 5, shared=os.urandom(20_000))
    (cid,) = _chunks_of(store, vs[0]) & _chunks_of(store, vs[1])
    os.remove(store.chunks.path(cid))
    from mvc.cli.main import cli
    text = CliRunner().invoke(cli, ["fsck"])
    assert text.exit_code == 5
    (line,) = [ln for ln in text.output.splitlines() if "affects:" in ln]
    assert line.count(":v0") == 3 and "and 2 more (`mvc fsck --json` lists all)" in line
    (problem,) = [p for p in json.loads(CliRunner().invoke(cli, ["fsck", "--json"]).output)["problems"]
                  if p["kind"] == "missing-chunk"]
    assert len(problem["versions"]) == 5
