"""A real S3 API server for tests and benchmarks: moto's standalone server (``moto_server``)
in a subprocess on 127.0.0.1, on a free port.  boto3 reaches it through its own
configuration chain (``AWS_ENDPOINT_URL`` and dummy credentials), exactly as a user's
MinIO or AWS endpoint would be reached.

In a test module::

    from s3_server import s3_server, s3_env, s3_bucket  # noqa: F401  (pytest fixtures)

``s3_server`` (session) starts the server once; ``s3_env`` points boto3 at it for one
test; ``s3_bucket`` makes a fresh bucket for one test and returns its name.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """``moto_server`` in a subprocess; ``stop()`` ends it (by its own pid)."""

    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"

    def env(self) -> dict:
        return {"AWS_ENDPOINT_URL": self.url, **CREDENTIALS}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_moto(attempts: int = 3) -> MotoServer:
    """Start the server and wait until it answers (a port taken meanwhile: try another)."""
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "moto.server"]
    for _ in range(attempts):
        port = free_port()
        proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, **CREDENTIALS})
        server = MotoServer(proc, port)
        if _wait_ready(server, 30):
            return server
        server.stop()
    raise RuntimeError("moto_server did not start")


def _wait_ready(server: MotoServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(server.url + "/moto-api/", timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def make_bucket(versioned: bool = False) -> str:
    """A fresh bucket on the server boto3's environment points at."""
    import boto3
    name = "mvc-test-" + secrets.token_hex(6)
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="session")
def s3_server():
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    return s3_server


@pytest.fixture
def s3_bucket(s3_env):
    return make_bucket()
