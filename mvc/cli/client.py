"""The `mvc` command's entry point: hand the command to a warm server, or run it here.

A Python process that imports pygit2, click and blake3 spends ~0.2 s before it
does any work, which is most of an unchanged re-log or a hardlink use.  As
Mercurial's chg does for hg, the first `mvc` starts a server in the background
(mvc/cli/server.py) that has imported everything once; later commands connect
to it over a Unix socket, pass their argv, cwd, environment, umask and their
stdin/stdout/stderr (the descriptors themselves), and the server forks a fresh
child that runs the command exactly as this process would have.  The child
writes to this terminal directly; this process forwards signals (Ctrl-C) and
exits with the child's status.  If the client dies, the child is killed with it.

This module imports only the standard library's socket layer: it is all a
served command loads.  Anything unusual (no server yet, an unsafe socket
folder, a platform without pidfds or descriptor passing, MVC_SERVER=0) runs
the command in this process, so the server is only ever a shortcut.
Design and measurements: docs/design.md, "A resident server for the CLI".
"""
from __future__ import annotations

import os
import sys

IDLE_S = 600  # a server with no command for this long exits (MVC_SERVER_IDLE)
SPAWN_WAIT_S = 10  # a server that has not come up this long after its spawn is tried again
START_WAIT_S = 10  # a server that has not started a command this long after the connect is passed over


def main() -> None:
    mode = os.environ.get("MVC_SERVER", "1").lower()
    if mode not in ("0", "off", "no", "false"):
        where = socket_path() if _std_fds_open() else None
        try:
            code = _served(where) if where is not None else None
        except ConnectionError:  # nobody listens there: start a server for the next command
            code = None
            _spawn(where)
        if code is not None:
            raise SystemExit(code)
        if mode == "require":  # tests: fail instead of falling back
            sys.stderr.write(f"mvc: error: no mvc server answers at {where or 'a safe socket folder'} "
                             "(MVC_SERVER=require)\n")
            raise SystemExit(1)
    from .main import main as run_here
    run_here()


def _std_fds_open() -> bool:
    """A closed stdin/stdout/stderr cannot be passed (and a socket opened here
    would take its number): such a command runs in process, as it would anyway."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def server_dir() -> str | None:
    """The folder of this user's server sockets, made private; None if it is not safe."""
    base = os.environ.get("MVC_SERVER_DIR")
    if not base:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = os.path.join(runtime, "mvc") if runtime else f"/tmp/mvc-server-{os.getuid()}"
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        st = os.lstat(base)
    except OSError:
        return None
    import stat
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # someone else's folder, or one others can write: never trust a socket there
    return base


def server_key() -> str:
    """Names the server for this exact code and place: the interpreter, mvc's own
    files (an edit or upgrade gets a new server; the old one idles out), the
    installed packages (site-packages changes on every pip install), the
    variables that change how Python imports or decodes, and what a forked
    command inherits from the server rather than from its client: the mount
    namespace, the cgroup (a batch job's memory limit), the resource limits,
    the nice value and the CPUs it may run on."""
    try:
        from _blake2 import blake2s
    except ImportError:  # pragma: no cover - every CPython has it
        from hashlib import blake2s
    h = blake2s(digest_size=10)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [sys.executable, sys.version, pkg, str(os.getuid())]
    for root, dirs, files in os.walk(pkg):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(root, name))
                parts.append(f"{root}/{name}:{st.st_mtime_ns}:{st.st_size}")
    for entry in sys.path:
        if entry.endswith("site-packages"):
            try:
                parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
            except OSError:
                pass
    parts.append(_inherited())
    for var in sorted(os.environ):
        if var.startswith("PYTHON") or var in ("LANG", "LC_ALL", "LC_CTYPE"):
            parts.append(f"{var}={os.environ[var]}")
    h.update("\0".join(parts).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _inherited() -> str:
    out = []
    for ns in ("mnt", "pid", "user"):
        try:
            out.append(os.readlink(f"/proc/self/ns/{ns}"))
        except OSError:
            pass
    try:
        with open("/proc/self/cgroup", "rb") as f:
            out.append(f.read().decode("utf-8", "replace"))
    except OSError:
        pass
    out.append(f"nice={os.getpriority(os.PRIO_PROCESS, 0)}")  # `nice mvc log ...`
    if hasattr(os, "sched_getaffinity"):
        out.append(f"cpus={sorted(os.sched_getaffinity(0))}")  # `taskset -c 0 mvc ...`
    import resource
    for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CPU", "RLIMIT_CORE",
                 "RLIMIT_STACK", "RLIMIT_NPROC", "RLIMIT_MEMLOCK"):
        if hasattr(resource, name):
            out.append(f"{name}={resource.getrlimit(getattr(resource, name))}")
    return "\0".join(out)


def socket_path() -> str | None:
    if not hasattr(os, "pidfd_open"):  # Linux 5.3+; elsewhere commands run in process
        return None
    base = server_dir()
    if base is None:
        return None
    path = os.path.join(base, server_key() + ".sock")
    return path if len(path.encode()) < 100 else None  # sun_path holds 108 bytes


def beside(sock_path: str, ext: str) -> str:
    """The server's other file beside its socket: ``.pid`` (written by the server), ``.spawn`` (a start in progress)."""
    return sock_path[:-len(".sock")] + ext


def encode_request(argv: list[str], cwd: str, env: dict[str, str], umask: int) -> bytes:
    """NUL-separated fields (no argument, path or variable can hold a NUL):
    cwd, umask, the argument count, the arguments, then NAME=value pairs."""
    fields = [cwd, str(umask), str(len(argv)), *argv, *(f"{k}={v}" for k, v in env.items())]
    return b"\0".join(os.fsencode(f) for f in fields)


def _served(path: str) -> int | None:
    """Run the command on the server; its exit status, or None if the server did
    not take it (a descriptor it cannot pass, a server going away).  Raises
    ConnectionError when no server listens at ``path``."""
    import _socket  # not `socket`: its enums cost 4 ms a call
    import array
    import signal
    import struct

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(START_WAIT_S)  # a wedged server must not hang `mvc`: run in process instead
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise ConnectionError(str(e)) from None
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        request = encode_request(sys.argv, os.getcwd(), dict(os.environ), umask)
        fds = array.array("i", [0, 1, 2])
        sock.sendmsg([struct.pack("!I", len(request)) + request],
                     [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds.tobytes())])
        started = _recv_exact(sock, 5)
        if started is None or started[:1] != b"S":
            raise OSError("no start")
        # The command waits for this go-ahead, so a client that gave up (timed
        # out, and runs the command itself) can never have it run twice.  Signals
        # wait meanwhile: one that came between the go-ahead and the handlers
        # would act on this process alone; after them it is the command's.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _forwarded(signal))
        try:
            sock.send(b"G")
            _forward_signals(sock, signal)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        sock.settimeout(None)
    except OSError:
        sock.close()
        return None  # nobody listening, or the server went away before starting anything

    status = _recv_exact(sock, 5)
    if status is None:
        sys.stderr.write("mvc: error: the mvc server stopped while running this command\n"
                         "mvc: hint: run it again; set MVC_SERVER=0 to run commands without the server\n")
        return 1
    kind, value = status[:1], struct.unpack("!I", status[1:])[0]
    if kind == b"K":  # the command died of a signal: die of the same one
        try:
            signal.signal(value, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        os.kill(os.getpid(), value)
        return 128 + value
    return value


def _forwarded(signal) -> tuple:
    return (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCONT, signal.SIGTSTP)


def _forward_signals(sock, signal) -> None:
    """Hand the command what this process receives: Ctrl-C, termination,
    hang-up; Ctrl-Z stops the command and then this process, and `fg`/`bg`
    (SIGCONT) resume both, as job control expects of one process."""
    def forward(signum, _frame):
        try:
            sock.send(bytes([signum]))
        except OSError:
            pass

    def suspend(_signum, _frame):
        forward(signal.SIGSTOP, None)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        # Returns once resumed, or at once where the kernel discards the stop (an
        # orphaned process group, which nobody could resume): either way the
        # command goes on with this process, never stopped while it runs.
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        forward(signal.SIGCONT, None)

    for sig in _forwarded(signal):
        signal.signal(sig, suspend if sig == signal.SIGTSTP else forward)


def _recv_exact(sock, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        if not more:
            return None
        data += more
    return data


def _spawn(path: str) -> None:
    """Start a server for later commands, detached and silent, unless one is
    already starting (a marker beside the socket, older than SPAWN_WAIT_S is stale)."""
    marker = beside(path, ".spawn")
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            import time
            if time.time() - os.stat(marker).st_mtime < SPAWN_WAIT_S:
                return
            os.unlink(marker)
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return
    except OSError:
        return
    os.close(fd)
    import subprocess
    try:
        subprocess.Popen([sys.executable, "-m", "mvc.cli.server", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         close_fds=True, cwd="/")
    except OSError:
        pass


if __name__ == "__main__":
    main()
