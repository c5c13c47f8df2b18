"""Helpers for the remote tests: stores in folders, remotes on each transport, logging
with a fresh run, and reading what a remote holds straight from its bare repository."""
from __future__ import annotations

import os
import subprocess
import sys

import pygit2
import pytest

import mvc
from git_servers import make_bare

TRANSPORTS = ["path", "git", "http"]


@pytest.fixture
def remote_url(request, tmp_path):
    """A fresh bare repository reached over the transport the test is parametrised with
    (``transport``): (url, its path on disk)."""
    kind = request.getfixturevalue("transport")
    name = f"r-{os.urandom(4).hex()}.git"
    if kind in ("path", "file"):
        path = make_bare(str(tmp_path / name))
        return (path if kind == "path" else "file://" + path), path
    server = request.getfixturevalue("git_daemon" if kind == "git" else "http_git")
    return server.url(name), server.bare(name)


def new_store(root, name: str) -> str:
    d = os.path.join(str(root), name)
    os.makedirs(d, exist_ok=True)
    return d


def log(d: str, content: bytes, name: str = "m", aliases=None, link: str | None = None, fname="w.bin"):
    f = os.path.join(d, fname)
    with open(f, "wb") as fh:
        fh.write(content)
    with mvc.init(project="p", dir=d) as run:
        art = run.log_model(f, name=name, aliases=aliases)
        if link:
            run.link_artifact(art, f"registry/{link}")
    return art


def api(d: str) -> "mvc.Api":
    return mvc.Api(dir=d, project="p", create=True)


def versions(d: str, name: str = "m") -> list[tuple[str, str]]:
    return [(a.version, a.digest) for a in api(d).artifacts(name)]


def remote_versions(bare: str, name: str = "m", project: str = "p") -> dict[str, str]:
    """version -> digest, read from the remote's bare repository directly."""
    import json
    repo = pygit2.Repository(bare)
    from mvc.meta import refs
    try:
        ref = repo.references[refs.artifact(project, name)]
    except KeyError:
        return {}
    tree = repo[ref.target].tree
    out = {}
    for bucket in tree["versions"].peel(pygit2.Tree) if "versions" in tree else []:
        for v in repo[bucket.id]:
            out[v.name] = json.loads(repo[repo[v.id]["version.json"].id].data)["digest"]
    return out


def remote_ref(bare: str, refname: str) -> str | None:
    try:
        return str(pygit2.Repository(bare).references[refname].target)
    except KeyError:
        return None


def run_py(code: str, env: dict | None = None, wait: bool = True):
    """A real Python subprocess running ``code`` (the tests' import path and environment)."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path]),
                **(env or {})}
    proc = subprocess.Popen([sys.executable, "-c", code], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return out
    return proc


def two_stores_push_offline_work(url: str, bare: str, root) -> None:
    """Two stores log the same name offline, then both push to ``url`` (its bare repository at
    ``bare``): contiguous numbers, nothing lost, the same digest keeps the same version, links,
    run records and this store follow the new numbers, and a pull brings the other store level."""
    a, b = new_store(root, "a"), new_store(root, "b")
    log(a, b"a0")
    log(a, b"shared", aliases=["best"], link="prod")
    log(b, b"b0")
    log(b, b"shared")
    log(b, b"b2")
    for d in (a, b):
        api(d).add_remote("origin", url, storage=os.path.join(str(root), "bytes"))
    assert api(b).push()["renumbered"] == {}
    result = api(a).push()
    assert result["renumbered"] == {"p/m:v0": "p/m:v3"}  # a0 takes the next free number
    digests = {api(a).artifact(f"m:{v}").digest: v for v in ("v0", "v1", "v2", "v3")}
    assert sorted(remote_versions(bare)) == ["v0", "v1", "v2", "v3"]  # contiguous, nothing lost
    assert remote_versions(bare) == {v: d for d, v in digests.items()}
    assert versions(a) == versions(b)[:3] + [versions(a)[3]]  # this store shows the final numbers
    shared = api(a).artifact("m:best")
    assert shared.version == "v1" == api(b).artifact("m:v1").version  # same digest -> same version
    assert shared.digest == api(b).artifact("m:v1").digest
    link = api(a).artifact("registry/prod:latest")
    assert (link.version, link.digest) == ("v1", shared.digest)  # the link follows the numbers
    outputs = {o["version"] for r in api(a).runs() for o in r.record.get("outputs", [])}
    assert outputs == {"v1", "v3"}  # run records follow too
    pulled = api(b).pull()
    assert pulled["renumbered"] == {} and versions(b) == versions(a)
