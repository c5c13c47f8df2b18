"""The one duration grammar where it was not used (an audit of issue 11, section 3).

`1M` was read as one minute (the parser lowercased it), so `mvc gc --retention 1M`, meant as a
month, purged the trash; and MVC_HOOK_TIMEOUT / MVC_WEBHOOK_TIMEOUT were read with float():
`nan` crashed the hook runner, `1s` was ignored (60 s applied) and `-1` made every hook time out.
Also how Ctrl-C ends a command a hook holds up.  Real `mvc` processes and real hook executables."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import mvc
from mvc import durations
from mvc.errors import UsageError


def mvc_cmd(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True, env=e, timeout=120)


@pytest.mark.parametrize("text", ["1M", "30M", " 2M ", "1.5M"])
def test_an_upper_case_m_is_refused_with_what_to_write(text):
    with pytest.raises(ValueError, match="M is ambiguous; write 30m for minutes, 30d for a month"):
        durations.parse_duration(text)


def test_gc_retention_1M_keeps_the_trash(project):
    (project / "keep.bin").write_bytes(os.urandom(20_000))
    assert mvc_cmd("log", "keep.bin", "--name", "keepme").returncode == 0
    assert mvc_cmd("delete", "keepme:v0").returncode == 0
    r = mvc_cmd("gc", "--retention", "1M", "--grace", "0")
    assert r.returncode == 2 and "--retention" in r.stderr and "30d for a month" in r.stderr
    with pytest.raises(UsageError, match="30d for a month"):
        mvc.Api().gc(retention="1M")
    r = mvc_cmd("restore", "keepme:v0")
    assert r.returncode == 0, r.stderr
    assert mvc.Api().artifact("keepme:v0").size == 20_000


def _hook(store: str, event: str, seconds: float) -> str:
    """A hook that records that it started, then sleeps ``seconds``."""
    marker = os.path.join(os.path.dirname(store), f"{event}.started")
    path = os.path.join(store, "hooks", event)
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\nimport sys, time\nsys.stdin.read()\nopen({marker!r}, 'a').write('x')\n"
                f"time.sleep({seconds})\n")
    os.chmod(path, 0o755)
    return marker


@pytest.fixture
def two_versions(project):
    for i in range(2):
        (project / "m.bin").write_bytes(b"weights %d" % i)
        assert mvc_cmd("log", "m.bin", "--name", "M").returncode == 0
    return str(project / ".mvc")


@pytest.mark.parametrize("value", ["nan", "-1", "0", "soon", "1M"])
def test_a_bad_hook_timeout_refuses_before_any_hook_runs(two_versions, value):
    marker = _hook(two_versions, "pre-alias", 0)
    r = mvc_cmd("alias", "set", "M:v0", "best", env={"MVC_HOOK_TIMEOUT": value})
    assert r.returncode == 2, r.stderr
    assert f"MVC_HOOK_TIMEOUT={value}" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(marker)
    assert "best" not in mvc.Api().artifact("M:v0").aliases


def test_a_hook_timeout_with_a_unit_is_honoured(two_versions):
    marker = _hook(two_versions, "pre-alias", 30)
    start = time.monotonic()
    r = mvc_cmd("alias", "set", "M:v0", "best", env={"MVC_HOOK_TIMEOUT": "1s"})
    assert r.returncode != 0 and "timed out" in r.stderr
    assert time.monotonic() - start < 20 and os.path.exists(marker)
    assert "best" not in mvc.Api().artifact("M:v0").aliases


def test_after_a_change_a_bad_hook_timeout_is_reported_and_the_change_stands(two_versions):
    marker = _hook(two_versions, "post-alias", 0)
    r = mvc_cmd("alias", "set", "M:v0", "best", env={"MVC_HOOK_TIMEOUT": "nan"})
    assert r.returncode == 0, r.stderr
    assert "MVC_HOOK_TIMEOUT=nan" in r.stderr and "the change stands" in r.stderr
    assert "best" in mvc.Api().artifact("M:v0").aliases and not os.path.exists(marker)


def test_a_bad_webhook_timeout_fails_the_delivery_with_the_reason(monkeypatch):
    from mvc.hooks import webhooks
    monkeypatch.setenv("MVC_WEBHOOK_TIMEOUT", "-1")
    ok, status, error, retry = webhooks.attempt({"url": "http://127.0.0.1:9/"}, {"event": "post-alias"})
    assert (ok, status, retry) == (False, None, False) and "MVC_WEBHOOK_TIMEOUT=-1" in error


def test_ctrl_c_ends_a_command_with_130_and_changes_nothing(two_versions):
    """A real SIGINT while a pre-alias hook runs: "Aborted!", git's status 130, no alias moved,
    the hook's process group killed (mvc/hooks/runner.py)."""
    import signal
    marker = _hook(two_versions, "pre-alias", 60)
    p = subprocess.Popen([sys.executable, "-m", "mvc", "alias", "set", "M:v0", "best"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(marker), "the hook never started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130 and err.endswith("Aborted!\n") and "Traceback" not in err
    assert "best" not in mvc.Api().artifact("M:v0").aliases
