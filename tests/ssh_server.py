"""A real OpenSSH server on 127.0.0.1 for the ssh:// remote tests: Debian's /usr/sbin/sshd
(package openssh-server; .ci/run installs it) on a free port, with a host key and one client
key made by ssh-keygen in a temporary folder, and a real ``ssh-agent`` holding the client key.

The server accepts only that key (its own AuthorizedKeysFile, no passwords, no PAM) and runs
git-upload-pack / git-receive-pack as the user running the tests.  libgit2 1.9 checks the
host key against ``$HOME/.ssh/known_hosts``: ``trust(home)`` writes it there as
``[127.0.0.1]:PORT ssh-ed25519 ...``.

In a test module::

    from ssh_server import ssh_remote, ssh_server  # noqa: F401  (pytest fixtures)

``ssh_server`` (session) yields the server; ``ssh_remote`` (per test) also points
SSH_AUTH_SOCK at the agent and trusts the host key under the test's own HOME.  Every process
started here is stopped at the end by its process group id; nothing outlives the session."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from git_servers import _wait_port, free_port, make_bare

SSHD = "/usr/sbin/sshd"


def _keygen(path: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mvc-test", "-f", path], check=True)
    with open(path + ".pub") as f:
        kind, key = f.read().split()[:2]
    return f"{kind} {key}"


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group the fixture started (sshd forks one child per connection)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class SshServer:
    """sshd + ssh-agent under ``base``: ``url(path)``, ``bare(name)``, ``trust(home)``."""

    def __init__(self, base: str):
        self.base = base
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.host_key = _keygen(os.path.join(base, "host_key"))
        self.client_key_path = os.path.join(base, "client_key")
        self.client_pub = _keygen(self.client_key_path)
        self.authorized = os.path.join(base, "authorized_keys")
        with open(self.authorized, "w") as f:
            f.write(self.client_pub + "\n")
        self.repos = os.path.join(base, "repos")
        os.makedirs(self.repos)
        self._privsep_dir()
        self.proc = self._start_sshd()
        self.agent_sock = os.path.join(base, "agent.sock")
        try:
            self.agent = self._start_agent()
        except BaseException:
            _stop_group(self.proc)
            raise

    # ---- the pieces ------------------------------------------------------------
    @staticmethod
    def _privsep_dir() -> None:
        """sshd started by root refuses to run without its privilege separation directory,
        which Debian's service unit creates; no service runs here, so create it."""
        if os.getuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    def _config(self, port: int) -> str:
        path = os.path.join(self.base, "sshd_config")
        with open(path, "w") as f:
            f.write(f"ListenAddress 127.0.0.1\nPort {port}\n"
                    f"HostKey {os.path.join(self.base, 'host_key')}\n"
                    f"AuthorizedKeysFile {self.authorized}\n"
                    "PubkeyAuthentication yes\nAuthenticationMethods publickey\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                    "PermitRootLogin prohibit-password\n"
                    f"AllowUsers {self.user}\n"
                    f"PidFile {os.path.join(self.base, 'sshd.pid')}\n"
                    "StrictModes no\n"  # temporary folders may be group-writable
                    "LogLevel VERBOSE\n")
        return path

    def _start_sshd(self) -> subprocess.Popen:
        for _ in range(3):
            self.port = free_port()
            config = self._config(self.port)
            log = open(os.path.join(self.base, "sshd.log"), "ab")
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if _wait_port(self.port, proc):
                return proc
            _stop_group(proc)
        raise RuntimeError(f"sshd did not start; see {os.path.join(self.base, 'sshd.log')}")

    def _start_agent(self) -> subprocess.Popen:
        """``ssh-agent -D`` stays in the foreground, so the fixture owns its pid."""
        proc = subprocess.Popen(["ssh-agent", "-D", "-a", self.agent_sock], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.agent_sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop_group(proc)
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.02)
        subprocess.run(["ssh-add", "-q", self.client_key_path], check=True, capture_output=True,
                       env={**os.environ, "SSH_AUTH_SOCK": self.agent_sock})
        return proc

    # ---- what tests use --------------------------------------------------------
    def url(self, path: str) -> str:
        """ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH (the path as sshd's git-upload-pack sees it)."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{os.path.abspath(path)}"

    def bare(self, name: str) -> str:
        return make_bare(os.path.join(self.repos, name))

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key}\n"

    def trust(self, home: str, line: str | None = None) -> str:
        """Write ``home``/.ssh/known_hosts with this server's host key (or ``line``)."""
        ssh_dir = os.path.join(home, ".ssh")
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        path = os.path.join(ssh_dir, "known_hosts")
        with open(path, "w") as f:
            f.write(self.known_hosts_line if line is None else line)
        return path

    def stop(self) -> None:
        _stop_group(self.proc)
        _stop_group(self.agent)


@pytest.fixture(scope="session")
def ssh_server():
    if not os.access(SSHD, os.X_OK):
        raise RuntimeError(f"{SSHD} is missing: install Debian's openssh-server (.ci/run does)")
    base = tempfile.mkdtemp(prefix="mvc-ssh-")
    server = SshServer(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ssh_remote(ssh_server, monkeypatch):
    """The session's server, with this test's HOME trusting its host key and SSH_AUTH_SOCK
    pointing at its agent (both for in-process calls and for subprocesses that copy the env).
    libgit2 reads HOME once, when pygit2 is imported (at collection, before conftest.py gave
    the test its own HOME), so in this process its home directory is pointed there too."""
    import pygit2
    ssh_server.trust(os.environ["HOME"])
    monkeypatch.setattr(pygit2.settings, "homedir", os.environ["HOME"])
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_server.agent_sock)
    return ssh_server
