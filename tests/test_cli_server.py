"""The resident server (mvc/cli/client.py, mvc/cli/server.py), through the
installed `mvc` script in real processes: a served command must behave exactly
as one run in its own process, and never outlive the `mvc` process that asked."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import process_alive, stop_servers

MVC = os.path.join(os.path.dirname(sys.executable), "mvc")
# The server needs pidfds (Linux 5.3+); elsewhere every command runs in process, by design.
pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfds: mvc runs commands in process here")


@pytest.fixture
def server_env(tmp_path):
    """A private server folder for this test; the server is up when the fixture returns."""
    base = tmp_path / "srv"
    env = dict(os.environ, MVC_SERVER_DIR=str(base), MVC_SERVER_IDLE="60")
    env.pop("MVC_SERVER", None)
    subprocess.run([MVC, "--help"], env=env, capture_output=True, check=True)  # starts it
    deadline = time.monotonic() + 60
    while not list(base.glob("*.sock")):
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.05)
    env["MVC_SERVER"] = "require"  # from here on a command that is not served fails
    yield env
    stop_servers(str(base))


def mvc(args, env, cwd, **kw):
    return subprocess.run([MVC, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=120, **kw)


def test_served_commands_match_in_process_ones(project, model_file, server_env):
    here = dict(server_env, MVC_SERVER="0")
    assert mvc(["init"], server_env, project).returncode == 0
    res = mvc(["log", "model.bin", "--name", "M", "--alias", "best"], server_env, project)
    assert res.returncode == 0 and res.stdout.startswith("proj/M:v0  (new version"), res.stderr
    for args in (["ls", "M", "--json"], ["show", "M:best"], ["du"], ["--help"], ["log", "--help"]):
        served, local = mvc(args, server_env, project), mvc(args, here, project)
        assert (served.returncode, served.stdout, served.stderr) == (local.returncode, local.stdout, local.stderr)
    rows = json.loads(mvc(["ls", "M", "--json"], server_env, project).stdout)
    assert [(r["version"], r["aliases"]) for r in rows] == [("v0", ["best", "latest"])]


def test_errors_exit_codes_and_env_reach_the_served_command(project, model_file, server_env):
    mvc(["init"], server_env, project)
    res = mvc(["show", "Nope:v1"], server_env, project)
    assert res.returncode == 3 and res.stderr.startswith("mvc: error: ") and res.stdout == ""
    assert mvc(["frobnicate"], server_env, project).returncode == 2
    other = dict(server_env, MVC_PROJECT="other")  # each command's own environment, not the server's
    res = mvc(["log", "model.bin", "--name", "M"], other, project)
    assert res.returncode == 0 and res.stdout.startswith("other/M:v0"), res.stderr


def test_cwd_umask_and_git_identity_are_the_clients(project, model_file, server_env, tmp_path):
    mvc(["init"], server_env, project)
    home = tmp_path / "home2"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Served Person\n\temail = served@example.com\n")
    env = dict(server_env, HOME=str(home))
    env.pop("MVC_USER")
    env.pop("MVC_EMAIL")
    sub = project / "sub"
    sub.mkdir()
    res = mvc(["log", "../model.bin", "--name", "M", "--alias", "best"], env, sub)
    assert res.returncode == 0, res.stderr
    author = subprocess.run(["git", "--git-dir", str(project / ".mvc"), "log", "--all", "-1", "--format=%an"],
                            capture_output=True, text=True).stdout.strip()
    assert author == "Served Person"  # libgit2 looked for .gitconfig in this command's HOME
    res = mvc(["use", "M:v0", "-o", "out"], env, sub, preexec_fn=lambda: os.umask(0o077))
    assert res.returncode == 0, res.stderr
    out = sub / "out" / "model.bin"
    assert out.read_bytes() == model_file.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # made under the client's umask


def _ppids() -> dict[int, int]:
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    out[int(pid)] = int(fields[1])
            except (OSError, IndexError):
                pass
    return out


def _served_commands(server_pid: int) -> list[int]:
    """Commands the server runs: children of its sessions, which are its children."""
    ppids = _ppids()
    return [pid for pid, parent in ppids.items() if ppids.get(parent) == server_pid]


def _server_pid(env, cwd) -> int:
    res = mvc(["server", "status"], dict(env, MVC_SERVER="0"), cwd)
    return int(res.stdout.split("pid ")[1].split(")")[0])


def _long_log(project, server_env, **popen) -> tuple[subprocess.Popen, int]:
    """Start `mvc log` of 256 GiB of holes (hashing them takes far longer than any
    test waits) through the server; return the client and the server's pid once
    the served log is under way (its lease is taken)."""
    mvc(["init"], server_env, project)
    with open(project / "sparse.bin", "wb") as f:
        f.truncate(256 << 30)
    server = _server_pid(server_env, project)
    client = subprocess.Popen([MVC, "log", "sparse.bin", "--name", "Big"], env=server_env, cwd=str(project),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    leases = project / ".mvc" / "leases"
    deadline = time.monotonic() + 30
    while not (_served_commands(server) and leases.is_dir() and any(leases.iterdir())):
        assert time.monotonic() < deadline and client.poll() is None, client.communicate()
        time.sleep(0.02)
    return client, server


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_command_dies_with_its_client_and_logs_nothing(project, server_env, tmp_path, how):
    client, server = _long_log(project, server_env)
    client.send_signal(getattr(signal, how))
    _, err = client.communicate(timeout=60)
    if how == "SIGKILL":
        assert client.returncode == -signal.SIGKILL
    else:  # Ctrl-C reaches the command, which stops as `mvc` does: click's "Aborted!"
        assert client.returncode == 1 and "Aborted" in err, err
    deadline = time.monotonic() + 30
    while _served_commands(server):
        assert time.monotonic() < deadline, "the served command outlived its client"
        time.sleep(0.05)
    res = mvc(["ls", "--json"], server_env, project)
    assert json.loads(res.stdout) == []


def test_a_crash_in_a_served_command_is_the_clients_crash(project, model_file, server_env):
    mvc(["init"], server_env, project)
    env = dict(server_env, MVC_TEST_CRASH_AT="log:after-chunks")
    res = mvc(["log", "model.bin", "--name", "M"], env, project)
    assert res.returncode == -signal.SIGKILL
    assert json.loads(mvc(["ls", "--json"], server_env, project).stdout) == []
    assert mvc(["log", "model.bin", "--name", "M"], server_env, project).returncode == 0


def test_server_status_and_stop(project, server_env):
    res = mvc(["server", "status"], server_env, project)
    assert res.returncode == 0 and res.stdout.startswith("running (pid "), res.stdout
    pid = int(res.stdout.split("pid ")[1].split(")")[0])
    res = mvc(["server", "stop"], server_env, project)
    assert res.stdout.strip() == "stopped 1 server"
    deadline = time.monotonic() + 30
    while process_alive(pid):
        assert time.monotonic() < deadline, "the server did not stop"
        time.sleep(0.05)
    res = mvc(["server", "status"], dict(server_env, MVC_SERVER="0"), project)
    assert res.stdout.startswith("not running")


def test_no_server_in_a_folder_others_can_write(project, tmp_path):
    base = tmp_path / "open"
    base.mkdir()
    os.chmod(base, 0o777)
    env = dict(os.environ, MVC_SERVER_DIR=str(base))
    for _ in range(2):
        res = mvc(["--help"], env, project)
        assert res.returncode == 0  # runs in process
    time.sleep(0.5)
    assert os.listdir(base) == []  # and never started a server there
    res = mvc(["--help"], dict(env, MVC_SERVER="require"), project)
    assert res.returncode == 1 and "no mvc server" in res.stderr


def test_the_server_key_changes_with_the_code(tmp_path, monkeypatch):
    from mvc.cli import client
    before = client.server_key()
    assert before == client.server_key()
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # another import path: another server
    assert client.server_key() != before
    monkeypatch.delenv("PYTHONPATH")
    path = client.__file__
    st = os.stat(path)
    try:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # an edit
        assert client.server_key() != before
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert client.server_key() == before


def test_request_round_trip():
    from mvc.cli.client import encode_request
    from mvc.cli.server import decode_request
    argv = ["mvc", "log", "a b", "--metadata", '{"x": "=\\u00e9"}', ""]
    env = {"A": "1", "B": "x=y", "EMPTY": "", "U": "caf\u00e9"}
    assert decode_request(encode_request(argv, "/tmp/d ir", env, 0o027)) == (argv, "/tmp/d ir", env, 0o027)


def test_no_module_reads_the_environment_at_import():
    """The server imports every module once for many commands, each with its own
    environment: a module-level os.environ read would freeze the server's."""
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1] / "mvc"
    bad = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and sub.attr in ("environ", "getenv"):
                    bad.append(f"{path.relative_to(root)}:{sub.lineno}")
    assert bad == []


def test_a_command_runs_only_after_the_clients_go_ahead(project, model_file, server_env):
    """A client that gives up waiting (and runs the command itself) must not
    have it run on the server too: without the go-ahead byte nothing runs."""
    import socket
    import struct

    from mvc.cli.client import encode_request
    mvc(["init"], server_env, project)
    sock_path = next(iter((project.parent / "srv").glob("*.sock")))
    server = _server_pid(server_env, project)
    request = encode_request([MVC, "log", "model.bin", "--name", "M"], str(project), server_env, 0o022)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock_path))
        socket.send_fds(s, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        assert s.recv(5)[:1] == b"S"
        assert _served_commands(server)  # forked, waiting
    deadline = time.monotonic() + 30
    while _served_commands(server):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(mvc(["ls", "--json"], server_env, project).stdout) == []


def test_a_client_with_other_limits_gets_its_own_server():
    """A forked command inherits the server's resource limits and cgroup, not
    its client's: a client under other limits (a batch job's) must not share."""
    import resource
    code = "from mvc.cli.client import server_key; print(server_key())"

    def key(preexec=None):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              preexec_fn=preexec).stdout.strip()

    def lower_fsize():
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, hard))

    assert key() == key()
    assert key(lower_fsize) != key()
    assert key(lambda: os.nice(5)) != key()  # `nice mvc ...` must not run at the server's priority


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_ctrl_z_stops_the_served_command_and_fg_resumes_it(project, server_env):
    # Its own process group, under pytest's in the same session: a shell's job, which the
    # kernel lets stop (a group with no parent outside it in the session is orphaned, and
    # there SIGTSTP is discarded: the next test).
    client, server = _long_log(project, server_env, process_group=0)
    command = _served_commands(server)[0]
    try:
        client.send_signal(signal.SIGTSTP)
        deadline = time.monotonic() + 30
        while _state(command) != "T" or _state(client.pid) != "T":  # both stopped, as one process would be
            assert time.monotonic() < deadline, (_state(command), _state(client.pid))
            time.sleep(0.02)
        client.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 30
        while _state(command) == "T":
            assert time.monotonic() < deadline, "the command was not resumed"
            time.sleep(0.02)
    finally:
        client.kill()
        client.communicate(timeout=60)


def test_a_server_that_drops_the_request_means_run_here_not_start_another(project, tmp_path):
    """Something listens but starts nothing (a server going away, one that
    cannot take this client): the command runs in process, and no second
    server is spawned to replace the one listening."""
    import socket
    import threading
    env = dict(os.environ, MVC_SERVER_DIR=str(tmp_path / "srv2"), MVC_SERVER="0")
    path = mvc(["server", "status"], env, project).stdout.split("socket: ")[1].strip()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)

    def drop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    try:
        res = mvc(["--help"], dict(env, MVC_SERVER="1"), project)
        assert res.returncode == 0 and res.stdout.startswith("Usage: mvc"), res.stderr
        assert os.listdir(tmp_path / "srv2") == [os.path.basename(path)]  # no spawn marker, no new server
    finally:
        listener.close()


def test_a_closed_stdin_is_never_passed_to_the_server(project, server_env):
    """With fd 0 closed the client's own socket would take its number and be
    passed as the command's stdin: such a command is not served (MVC_SERVER=require
    shows it; without it, it runs in process)."""
    close0 = lambda: os.close(0)  # noqa: E731
    res = subprocess.run([MVC, "--help"], env=server_env, cwd=str(project), capture_output=True, text=True,
                         preexec_fn=close0)
    assert res.returncode == 1 and "no mvc server answers" in res.stderr
    assert mvc(["--help"], server_env, project).returncode == 0  # served when stdin is open
    res = subprocess.run([MVC, "--help"], env=dict(server_env, MVC_SERVER="1"), cwd=str(project),
                         capture_output=True, text=True, preexec_fn=close0)
    assert res.returncode == 0 and res.stdout.startswith("Usage: mvc")


def test_a_command_dies_with_its_session_and_the_client_says_so(project, server_env):
    """If the process between client and command (the session) is killed, the
    command is killed with it and the client exits 1 saying the server stopped."""
    client, server = _long_log(project, server_env)
    command = _served_commands(server)[0]
    os.kill(_ppids()[command], signal.SIGKILL)  # the session
    _, err = client.communicate(timeout=60)
    assert client.returncode == 1 and "the mvc server stopped while running this command" in err
    deadline = time.monotonic() + 30
    while process_alive(command):
        assert time.monotonic() < deadline, "the command outlived its session"
        time.sleep(0.05)
    assert json.loads(mvc(["ls", "--json"], server_env, project).stdout) == []


def test_ctrl_z_in_an_orphaned_group_leaves_the_command_running(project, server_env):
    """Where the kernel discards the client's own stop (an orphaned process group:
    nothing could resume it), the command must not stay stopped either."""
    client, server = _long_log(project, server_env, start_new_session=True)
    command = _served_commands(server)[0]
    try:
        client.send_signal(signal.SIGTSTP)
        time.sleep(1.0)
        assert _state(client.pid) != "T" and _state(command) != "T", (_state(client.pid), _state(command))
    finally:
        client.kill()
        client.communicate(timeout=60)
