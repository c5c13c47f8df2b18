"""Remotes over ssh:// against a real OpenSSH server on 127.0.0.1 (tests/ssh_server.py):
keys from a real ssh-agent, the host key checked against ~/.ssh/known_hosts.  The CLI as
real subprocesses and the Python API: push, clone -> use byte-identical, two stores that
logged the same name offline, pull; an untrusted host key and a missing or keyless agent
are typed RemoteErrors with a hint, never a silent accept, a hang or a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

import mvc
from mvc.errors import RemoteError
from remote_kit import api, log, new_store, remote_ref, remote_versions, two_stores_push_offline_work
from ssh_server import _stop_group, ssh_remote, ssh_server  # noqa: F401

REF = "refs/mvc/p/artifacts/m"


def cli(*args, cwd, env=None, ok=True, timeout=120) -> subprocess.CompletedProcess:
    """`python -m mvc ARGS` as a real subprocess, with the test's HOME and SSH_AUTH_SOCK."""
    full_env = {**os.environ, "MVC_SERVER": "0", **(env or {})}
    res = subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd), env=full_env,
                         capture_output=True, text=True, timeout=timeout)
    if ok:
        assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def test_cli_push_clone_use_round_trip(ssh_remote, tmp_path):
    bare = ssh_remote.bare(f"cli-{os.urandom(4).hex()}.git")
    url = ssh_remote.url(bare)
    a = new_store(tmp_path, "a")
    content = os.urandom(400_000)
    (tmp_path / "a" / "w.bin").write_bytes(content)
    cli("--project", "p", "log", "w.bin", "--name", "m", "--type", "model", "--alias", "best", cwd=a)
    cli("remote", "add", "origin", url, "--storage", tmp_path / "bytes", cwd=a)
    listed = json.loads(cli("remote", "ls", "--json", cwd=a).stdout)
    assert listed == [{"name": "origin", "url": url, "storage": str(tmp_path / "bytes"), "kind": "ssh"}]
    pushed = json.loads(cli("push", "--json", cwd=a).stdout)
    assert REF in pushed["refs"] and pushed["chunks"] >= 1 and pushed["objects"] >= 3
    assert list(remote_versions(bare)) == ["v0"]  # the names arrived in the bare repository over ssh
    again = json.loads(cli("push", "--json", cwd=a).stdout)
    assert again["refs"] == [] and again["chunks"] == 0
    cloned = json.loads(cli("clone", url, tmp_path / "c", "--json", cwd=tmp_path).stdout)
    assert cloned["store"] == str(tmp_path / "c" / ".mvc") and cloned["storage"] == str(tmp_path / "bytes")
    out = cli("--project", "p", "use", "m:best", "-o", tmp_path / "out", cwd=tmp_path / "c").stdout.strip()
    assert open(out, "rb").read() == content
    assert json.loads(cli("fetch", "--json", cwd=tmp_path / "c").stdout)["refs"] == []


def test_two_stores_log_offline_and_both_push(ssh_remote, tmp_path):
    bare = ssh_remote.bare(f"two-{os.urandom(4).hex()}.git")
    two_stores_push_offline_work(ssh_remote.url(bare), bare, tmp_path)  # the fetch in its pull is over ssh too


def test_python_clone_over_ssh_is_byte_identical(ssh_remote, tmp_path):
    bare = ssh_remote.bare(f"py-{os.urandom(4).hex()}.git")
    a = new_store(tmp_path, "a")
    content = os.urandom(300_000)
    log(a, content, aliases=["best"])
    api(a).add_remote("origin", ssh_remote.url(bare), storage=str(tmp_path / "bytes"))
    api(a).push()
    mvc.clone(ssh_remote.url(bare), str(tmp_path / "c"), no_bytes=True)
    out = api(str(tmp_path / "c")).artifact("m:best").download(str(tmp_path / "out"))
    assert (tmp_path / "out" / "w.bin").read_bytes() == content and out == str(tmp_path / "out")


def _store_with_ssh_origin(ssh_remote, tmp_path, prefix: str):
    """A store holding one version whose origin is a new bare repository behind sshd, nothing
    pushed yet: (the bare repository, the store, the remote's URL)."""
    bare = ssh_remote.bare(f"{prefix}-{os.urandom(4).hex()}.git")
    url = ssh_remote.url(bare)
    a = new_store(tmp_path, "a")
    log(a, b"x")
    api(a).add_remote("origin", url, storage=str(tmp_path / "bytes"))
    return bare, a, url


@pytest.mark.parametrize("known_hosts", ["absent", "empty", "other key"])
def test_untrusted_host_key_is_refused(known_hosts, ssh_remote, tmp_path):
    """libgit2 reports the known_hosts check; pygit2's default would accept any ssh host key."""
    bare, a, url = _store_with_ssh_origin(ssh_remote, tmp_path, "hk")
    home = os.environ["HOME"]
    if known_hosts == "absent":
        os.remove(os.path.join(home, ".ssh", "known_hosts"))
    else:
        other = "" if known_hosts == "empty" else f"[127.0.0.1]:{ssh_remote.port} {ssh_remote.client_pub}\n"
        ssh_remote.trust(home, other)
    with pytest.raises(RemoteError, match="127.0.0.1 is not trusted") as e:
        api(a).push()
    assert "known_hosts" in e.value.hint
    assert remote_ref(bare, REF) is None  # nothing was sent
    with pytest.raises(RemoteError, match="not trusted"):
        mvc.clone(url, str(tmp_path / "c"))
    assert not os.path.exists(tmp_path / "c" / ".mvc")
    res = cli("push", cwd=a, ok=False)
    assert res.returncode == 6 and "not trusted" in res.stderr and "known_hosts" in res.stderr
    assert "Traceback" not in res.stderr


def test_no_agent_is_a_remote_error_with_a_hint(ssh_remote, tmp_path, monkeypatch):
    bare, a, _ = _store_with_ssh_origin(ssh_remote, tmp_path, "na")
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(RemoteError, match="no ssh-agent is running") as e:
        api(a).push()
    assert "ssh-add" in e.value.hint
    assert remote_ref(bare, REF) is None
    res = cli("push", cwd=a, ok=False, timeout=60)
    assert res.returncode == 6 and "ssh-agent" in res.stderr and "ssh-add" in res.stderr
    assert "Traceback" not in res.stderr


def test_agent_without_the_key_is_a_remote_error_with_a_hint(ssh_remote, tmp_path, monkeypatch):
    bare, a, _ = _store_with_ssh_origin(ssh_remote, tmp_path, "nk")
    sock = os.path.join(tempfile.mkdtemp(prefix="mvc-agent-"), "a.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not os.path.exists(sock):
            assert agent.poll() is None
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)  # a running agent that holds no key
        with pytest.raises(RemoteError, match="could not list the refs of remote origin") as e:
            api(a).push()
        assert "ssh-add -l" in e.value.hint
        assert remote_ref(bare, REF) is None
    finally:
        _stop_group(agent)
