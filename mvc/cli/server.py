"""The resident `mvc` server: imports mvc once, then forks a fresh child per command.

    python -m mvc.cli.server SOCKET        (started by client.py, detached)

For each connection (client.py sends argv, cwd, environment, umask and its
stdin/stdout/stderr) the server forks a *session* process and goes back to
accepting.  The session forks the *command* process, which takes the client's
descriptors as 0/1/2, its cwd, environment and umask, and runs the command as
`mvc` would (mvc.cli.main.main); the session waits for it on a pidfd while
forwarding the client's signals, reports how it ended, and exits.  If the
client goes away (killed), the session kills the command: a command never
outlives the `mvc` process that asked for it.

The server itself never runs a command and holds no repository, lock, lease or
open store: each command starts from the state right after import, as a new
process would.  It exits after IDLE_S without a command, when its socket is
removed or taken over by another server, or on SIGTERM (`mvc server stop`).
Only the user who owns the (private) socket folder can connect; the peer's uid
is checked on every connection as well.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import time

from .client import IDLE_S, beside, server_dir


def preload() -> None:
    """Everything a command would import: the point of the server."""
    import importlib
    for name in ("blake3", "click", "ctypes", "pygit2", "pyfastcdc", "sqlite3", "tabulate", "xxhash"):
        importlib.import_module(name)
    import pkgutil

    import mvc
    for info in pkgutil.walk_packages(mvc.__path__, "mvc."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    import platform
    platform.platform()  # a run records it; computing it reads the interpreter's binary and runs `uname -p`
    # (~5 ms); cached by the module, and fixed for the server's life (its key holds the interpreter)


def serve(path: str, idle: float) -> None:
    base = os.path.dirname(path)
    if server_dir() != base:
        return  # not our private folder (client.py checked it too, but it could have changed)
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        listener.bind(tmp)
        os.chmod(tmp, 0o600)
        listener.listen(128)
        os.replace(tmp, path)  # atomic: a racing server's socket is replaced, never half-made
    except OSError:
        _unlink(tmp)
        return
    mine = os.stat(path).st_ino
    pidfile = beside(path, ".pid")
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(pidfile + ".tmp", pidfile)
    _unlink(beside(path, ".spawn"))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # sessions are reaped by the kernel
    signal.signal(signal.SIGTERM, _stop)
    listener.settimeout(min(idle, 5.0))
    last = time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except _Stopped:
                break
            except (socket.timeout, InterruptedError):
                if time.monotonic() - last > idle or not _still_mine(path, mine):
                    break
                continue
            last = time.monotonic()
            conn.settimeout(None)
            if _peer_uid(conn) != os.getuid():
                conn.close()
                continue
            try:
                pid = os.fork()
            except OSError:
                conn.close()  # the client sees no start and runs the command itself
                continue
            if pid == 0:
                listener.close()
                _session(conn)  # never returns
            conn.close()
    finally:
        if _still_mine(path, mine):
            _unlink(path)
            _unlink(pidfile)
        listener.close()


class _Stopped(Exception):
    pass


def _stop(*_) -> None:
    raise _Stopped()


def _still_mine(path: str, ino: int) -> bool:
    try:
        return os.stat(path).st_ino == ino
    except OSError:
        return False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def decode_request(data: bytes) -> tuple[list[str], str, dict[str, str], int]:
    fields = [os.fsdecode(f) for f in data.split(b"\0")]
    cwd, umask, n = fields[0], int(fields[1]), int(fields[2])
    argv = fields[3:3 + n]
    env = dict(f.split("=", 1) for f in fields[3 + n:] if "=" in f)
    return argv, cwd, env, umask


def _session(conn: socket.socket) -> None:
    """The forked session: read the request, fork the command, wait for it."""
    code = 70
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        head, fds, _, _ = socket.recv_fds(conn, 4096, 3)
        if len(head) < 4 or len(fds) != 3:
            os._exit(code)
        size = struct.unpack("!I", head[:4])[0]
        data = head[4:]
        while len(data) < size:
            more = conn.recv(min(1 << 20, size - len(data)))
            if not more:
                os._exit(code)
            data += more
        request = decode_request(data)
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            _command(conn, fds, go_r, *request)  # never returns
        os.close(go_r)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        conn.sendall(b"S" + struct.pack("!I", pid))
        if conn.recv(1) == b"G":
            os.write(go_w, b"G")
        os.close(go_w)  # without the go-ahead the command reads EOF and exits untouched
        while True:
            ready, _, _ = select.select([conn, pidfd], [], [])
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    conn.sendall(b"K" + struct.pack("!I", os.WTERMSIG(status)))
                else:
                    conn.sendall(b"E" + struct.pack("!I", os.waitstatus_to_exitcode(status)))
                code = 0
                break
            data = conn.recv(64)
            if not data:  # the client is gone: so is its command
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            for signum in data:
                try:
                    os.kill(pid, signum)
                except OSError:
                    pass
    except BaseException:
        pass
    os._exit(code)


def _command(conn: socket.socket, fds: list[int], go: int, argv: list[str], cwd: str, env: dict[str, str],
             umask: int) -> None:
    """The forked command: wait for the client's go-ahead, become the client's
    process (descriptors, cwd, environment, umask, signals) and run `mvc`."""
    code = 1
    try:
        conn.close()
        _die_with_parent()
        if os.read(go, 1) != b"G":
            os._exit(code)
        os.close(go)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        os.umask(umask)
        _reset_git_search_paths()
        _reopen_stdio()
        sys.argv = argv
        try:
            os.chdir(cwd)
        except OSError as e:
            sys.stderr.write(f"mvc: error: cannot enter the folder {cwd}: {e.strerror}\n")
            raise SystemExit(1)
        from .main import main
        code = 0
        main()
    except SystemExit as e:
        code = _exit_code(e.code)
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            import atexit
            atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        except BaseException:
            pass
        os._exit(code)


def _die_with_parent() -> None:
    """A command whose session is killed dies too (PR_SET_PDEATHSIG): the session
    is what tells the client how the command ended, and a command must never run
    on unseen (`pkill -f mvc.cli.server` matches sessions as well as the server)."""
    import ctypes
    session = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() != session:  # the session died before the prctl took hold
        os._exit(1)


def _exit_code(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    sys.stderr.write(f"{value}\n")
    return 1


def _reset_git_search_paths() -> None:
    """libgit2 found the global and XDG git config from $HOME when the server
    imported pygit2; this command's $HOME may differ.  Resetting a search path
    makes libgit2 derive it again from the environment now."""
    import pygit2
    from pygit2.enums import ConfigLevel
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = None


def _reopen_stdio() -> None:
    """The server's sys.stdout was made for /dev/null: make the text streams
    again for the client's descriptors (line-buffered on a terminal, as Python does)."""
    import io
    enc = sys.stdout.encoding if sys.stdout else "utf-8"

    def stream(fd: int, mode: str, line: bool):
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding=enc, errors="backslashreplace" if fd == 2 else "strict",
                                line_buffering=line, write_through=fd == 2)

    sys.stdin = stream(0, "rb", False)
    sys.stdout = stream(1, "wb", os.isatty(1))
    sys.stderr = stream(2, "wb", True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].endswith(".sock"):
        sys.stderr.write("usage: python -m mvc.cli.server SOCKET.sock  (started by `mvc` itself)\n")
        raise SystemExit(2)
    serve(sys.argv[1], float(os.environ.get("MVC_SERVER_IDLE") or IDLE_S))


if __name__ == "__main__":
    main()
