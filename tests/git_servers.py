"""Real git servers on 127.0.0.1 for remote tests and benchmarks, each on a free port:

- ``git daemon --enable=receive-pack --export-all --base-path=BASE`` (git://);
- git smart HTTP: ``git http-backend`` (CGI) behind a small stdlib HTTP server, with
  http.receivepack enabled, so pushes over http:// reach a real receive-pack.

In a test module::

    from git_servers import git_daemon, http_git  # noqa: F401  (pytest fixtures)

Each fixture yields a server with ``base`` (a folder) and ``url(name)``; ``bare(name)``
makes a bare repository under ``base`` and returns its path."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

GIT_CORE = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip() or "/usr/lib/git-core"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_bare(path: str) -> str:
    subprocess.run(["git", "init", "-q", "--bare", path], check=True)
    return path


class _Server:
    scheme = ""

    def __init__(self, base: str, port: int):
        self.base, self.port = base, port

    def url(self, name: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{name}"

    def bare(self, name: str) -> str:
        return make_bare(os.path.join(self.base, name))


class GitDaemon(_Server):
    scheme = "git"

    def __init__(self, base: str):
        for _ in range(3):
            port = free_port()
            self.proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
                 "--export-all", "--enable=receive-pack", "--informative-errors", base],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            super().__init__(base, port)
            if _wait_port(port, self.proc):
                return
            self.stop()
        raise RuntimeError("git daemon did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class _CgiHandler(BaseHTTPRequestHandler):
    """Hands each request to `git http-backend` as CGI and relays its answer."""

    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive bookkeeping
    base = ""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._body()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": self.base,
               "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "REMOTE_USER": "mvc-test",
               "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.receivepack", "GIT_CONFIG_VALUE_0": "true",
               "HOME": self.base}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run([os.path.join(GIT_CORE, "git-http-backend")], input=body, env=env,
                              capture_output=True)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in proc.stdout:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class HttpGit(_Server):
    scheme = "http"

    def __init__(self, base: str):
        handler = type("Handler", (_CgiHandler,), {"base": base})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        super().__init__(base, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def git_daemon():
    base = tempfile.mkdtemp(prefix="mvc-gitd-")
    server = GitDaemon(base)
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def http_git():
    base = tempfile.mkdtemp(prefix="mvc-githttp-")
    server = HttpGit(base)
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)
