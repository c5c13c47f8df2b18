"""Remotes end to end against real servers the tests start: a bare repository by path,
`git daemon` (git://) and git smart HTTP for the metadata; a folder and moto's S3 server
for the bytes.  Clone -> use round trips, two stores that logged the same name offline,
pull, lazy bytes, and the `remote` bookkeeping."""
from __future__ import annotations

import os
import time

import pytest

import mvc
from mvc.errors import InvalidInputError, NotFoundError, RemoteError
from git_servers import git_daemon, http_git  # noqa: F401
from remote_kit import (TRANSPORTS, api, log, new_store, remote_ref, remote_url, remote_versions,  # noqa: F401
                        two_stores_push_offline_work, versions)
from s3_server import s3_bucket, s3_env, s3_server  # noqa: F401


@pytest.mark.parametrize("transport", TRANSPORTS + ["file"])
def test_clone_then_use_is_byte_identical(transport, remote_url, tmp_path):
    url, _ = remote_url
    a = new_store(tmp_path, "a")
    content = os.urandom(300_000)
    log(a, content, aliases=["best"])
    api(a).add_remote("origin", url, storage=str(tmp_path / "bytes"))
    sent = api(a).push()
    assert sent["chunks"] >= 1 and sent["bytes"] >= len(content) // 2 and sent["objects"] >= 3
    summary = mvc.clone(url, str(tmp_path / "c"))
    assert summary["store"] == str(tmp_path / "c" / ".mvc") and summary["storage"] == str(tmp_path / "bytes")
    c = str(tmp_path / "c")
    assert api(c).remotes()[0]["name"] == "origin"
    path = api(c).artifact("m:best").download(str(tmp_path / "out"))
    assert (tmp_path / "out" / "w.bin").read_bytes() == content and path == str(tmp_path / "out")


def test_clone_from_s3_storage_round_trip(s3_bucket, tmp_path):
    bare = str(tmp_path / "r.git")
    from git_servers import make_bare
    make_bare(bare)
    a = new_store(tmp_path, "a")
    files = {f"f{i}.bin": os.urandom(2_000 + i) for i in range(30)} | {"big.bin": os.urandom(3_000_000)}
    os.makedirs(os.path.join(a, "model"))
    for n, data in files.items():
        with open(os.path.join(a, "model", n), "wb") as f:
            f.write(data)
    with mvc.init(project="p", dir=a) as run:
        run.log_model(os.path.join(a, "model"), name="m")
    api(a).add_remote("origin", bare, storage=f"s3://{s3_bucket}/team")
    api(a).push()
    c = str(tmp_path / "c")
    mvc.clone(bare, c, no_bytes=True)
    assert not list(api(c).repo.chunks.ids())  # metadata alone
    out = api(c).artifact("m:v0").download(str(tmp_path / "out"))
    for n, data in files.items():
        assert open(os.path.join(out, n), "rb").read() == data  # fetched lazily from the remote that has it


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_stores_log_offline_and_both_push(transport, remote_url, tmp_path):
    url, bare = remote_url
    two_stores_push_offline_work(url, bare, tmp_path)


def test_pull_fast_forwards_and_replays(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a, b = new_store(tmp_path, "a"), new_store(tmp_path, "b")
    log(a, b"one")
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    mvc.clone(bare, b)
    log(a, b"two")
    api(a).push()
    log(b, b"three")  # b's v1, offline
    result = api(b).pull()
    assert result["renumbered"] == {"p/m:v1": "p/m:v2"}
    assert [v for v, _ in versions(b)] == ["v0", "v1", "v2"]
    assert api(b).artifact("m:latest").version == "v2"
    assert api(b).push()["refs"]
    assert sorted(remote_versions(bare)) == ["v0", "v1", "v2"]


@pytest.mark.parametrize("transport", ["path", "git"])
def test_push_with_nothing_new_is_fast(transport, remote_url, tmp_path):
    url, _ = remote_url
    a = new_store(tmp_path, "a")
    for i in range(5):
        log(a, os.urandom(10_000), name=f"m{i}")
    api(a).add_remote("origin", url, storage=str(tmp_path / "bytes"))
    api(a).push()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        summary = api(a).push()
        times.append(time.perf_counter() - start)
        assert summary["refs"] == [] and summary["chunks"] == 0
    assert sorted(times)[1] <= 0.3


def test_push_names_only_what_it_is_given(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, b"x", name="keep")
    log(a, b"y", name="send")
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    summary = api(a).push(addresses=["send"])
    assert [r for r in summary["refs"] if "/artifacts/" in r] == ["refs/mvc/p/artifacts/send"]
    assert remote_versions(bare, "keep") == {} and list(remote_versions(bare, "send")) == ["v0"]


def test_remote_bookkeeping(tmp_path):
    a = new_store(tmp_path, "a")
    log(a, b"x")
    r = api(a)
    added = r.add_remote("team", "git://example.invalid/models.git", storage="s3://bucket/prefix", check=False)
    assert added == {"name": "team", "url": "git://example.invalid/models.git", "storage": "s3://bucket/prefix",
                     "kind": "git"}
    assert [x["name"] for x in r.remotes()] == ["team"]
    with pytest.raises(InvalidInputError, match="holds a password"):
        r.add_remote("x", "https://me:secret@example.invalid/m.git")
    with pytest.raises(InvalidInputError, match="bucket and a prefix only"):
        r.add_remote("x", "/tmp/x.git", storage="s3://AKIA:secret@bucket/p", check=False)
    with pytest.raises(InvalidInputError, match="exists already"):
        r.add_remote("team", "/tmp/x.git")
    with pytest.raises(InvalidInputError, match="not a usable remote name"):
        r.add_remote("../x", "/tmp/x.git")
    config = open(os.path.join(a, ".mvc", "config")).read()
    assert "secret" not in config and "s3://bucket/prefix" in config
    with pytest.raises(NotFoundError, match="no remote named 'origin'"):
        r.push()
    r.remove_remote("team")
    assert r.remotes() == []


def test_unreachable_remote_is_a_remote_error(tmp_path):
    a = new_store(tmp_path, "a")
    log(a, b"x")
    api(a).add_remote("origin", str(tmp_path / "missing.git"), storage=str(tmp_path / "bytes"))
    with pytest.raises(RemoteError, match="not a git repository"):
        api(a).push()


def test_push_without_storage_says_how(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, b"x")
    api(a).add_remote("origin", bare)
    with pytest.raises(RemoteError, match="no storage"):
        api(a).push()
    assert remote_ref(bare, "refs/mvc/p/artifacts/m") is None  # no name without its bytes


def test_hooks_never_travel(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, b"x")
    hook = os.path.join(a, ".mvc", "hooks", "post-log")
    os.makedirs(os.path.dirname(hook), exist_ok=True)
    with open(hook, "w") as f:
        f.write("#!/bin/sh\necho pwned\n")
    os.chmod(hook, 0o755)
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    mvc.clone(bare, str(tmp_path / "c"))
    assert not os.path.exists(str(tmp_path / "c" / ".mvc" / "hooks" / "post-log"))


def test_gc_keeps_what_a_pending_push_needs(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    content = os.urandom(100_000)
    log(a, content)
    api(a).gc(grace="0s")
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    c = str(tmp_path / "c")
    mvc.clone(bare, c)
    api(c).artifact("m:v0").download(str(tmp_path / "out"))
    assert (tmp_path / "out" / "w.bin").read_bytes() == content


def test_remote_add_probes_the_storage_for_conditional_writes(tmp_path):
    a = new_store(tmp_path, "a")
    bytes_dir = tmp_path / "bytes"
    api(a).add_remote("origin", str(tmp_path / "r.git"), storage=str(bytes_dir))
    probes = list((bytes_dir / "probes").iterdir())  # R13: the probe key written twice at `remote add`
    assert len(probes) == 1 and probes[0].read_bytes() == b"mvc conditional-write probe 1\n"
    api(a).add_remote("unchecked", str(tmp_path / "r.git"), storage=str(tmp_path / "other"), check=False)
    assert not (tmp_path / "other" / "probes").exists()


def test_links_to_one_registered_model_from_two_stores_are_renumbered(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a, b = new_store(tmp_path, "a"), new_store(tmp_path, "b")
    for d in (a, b):
        api(d).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    mine = log(a, b"from a", link="prod").digest
    theirs = log(b, b"from b", link="prod").digest
    api(b).push()
    summary = api(a).push()
    assert summary["renumbered"] == {"p/m:v0": "p/m:v1", "registry/prod:v0": "registry/prod:v1"}
    links = {li.link: (li.source, li.record["digest"]) for li in api(a).repo.registry.links("prod")}
    assert links == {"v0": (("p", "m", "v0"), theirs), "v1": (("p", "m", "v1"), mine)}
    assert api(a).artifact("registry/prod:latest").digest == mine
    api(b).pull()
    assert api(b).artifact("registry/prod:v1").digest == mine


def test_offline_edits_alias_moves_and_deletes_replay_on_the_new_numbers(tmp_path):
    from git_servers import make_bare
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, b"base")
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    b = str(tmp_path / "b")
    mvc.clone(bare, b)
    log(b, b"b's v1")
    api(b).push()
    # a, offline: a new version (its v1), an alias on it, a metadata edit and a delete of v0
    log(a, b"a's v1")
    api(a).set_alias("m:v1", "candidate")
    v0 = api(a).artifact("m:v0")
    v0.metadata["reviewed"] = True
    v0.save()
    api(a).artifact("m:v0").delete()
    summary = api(a).push()
    assert summary["renumbered"] == {"p/m:v1": "p/m:v2"}
    assert api(a).artifact("m:candidate").version == "v2"
    assert api(a).artifact("m:v2").digest != api(b).artifact("m:v1").digest
    api(b).pull()
    assert [v for v, _ in versions(b)] == ["v1", "v2"]  # v0 deleted there too
    trashed = api(b).artifacts("m", deleted=True)
    assert [t.version for t in trashed] == ["v0"] and trashed[0].metadata.get("reviewed") is True
    assert api(b).artifact("m:candidate").version == "v2" and api(b).artifact("m:latest").version == "v2"
