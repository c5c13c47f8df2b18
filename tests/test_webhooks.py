"""Webhooks against a real HTTP server on 127.0.0.1: the signature checks out, a 500 is retried,
a vetoed or refused move sends nothing, a failure is logged and `mvc webhook retry` delivers it
once, and the secret lives only in the environment."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import mvc
from mvc.errors import InvalidInputError, ProtectedAliasError

SECRET = "s3cr3t-for-tests"


class Receiver:
    """A real HTTP server on loopback that records each POST and answers ``codes`` in turn
    (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.requests.append({"headers": dict(self.headers), "body": body, "code": code,
                                          "path": self.path})
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["code"] == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def versions(project, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with mvc.init() as run:
        for i in range(2):
            (project / "m.bin").write_bytes(b"weights %d" % i)
            run.log_model(str(project / "m.bin"), name="M")
    return mvc.Api()


def mvc_cmd(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True,
                          env=dict(os.environ, MVC_SERVER="0", **(env or {})))


def test_signed_post_for_an_alias_event(versions, receiver, project):
    hook = versions.add_webhook(receiver.url, "alias:prod.*,link", secret_env="HOOK_SECRET")
    assert SECRET not in (project / ".mvc" / "webhooks.json").read_text()   # only the variable's name
    r = mvc_cmd("alias", "set", "M:v1", "production")
    assert r.returncode == 0, r.stderr
    (req,) = receiver.requests
    want = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req["headers"]["X-Mvc-Signature"], want)
    assert req["headers"]["Content-Type"] == "application/json" and req["headers"]["X-Mvc-Event"] == "post-alias"
    doc = json.loads(req["body"])
    assert (doc["alias"], doc["old"], doc["new"], doc["address"]) == ("production", None, "v1", "proj/M:v1")
    assert req["headers"]["X-Mvc-Delivery"] == doc["id"]
    mvc_cmd("alias", "set", "M:v0", "staging")             # filtered out: alias:prod.*
    versions.artifact("M:v0").link("registry/prod")       # link events: yes
    assert [d["event"] for d in receiver.delivered()] == ["post-alias", "post-link"]
    (row, *_) = mvc.Api().webhook_log()
    assert row["webhook"] == hook["id"] and row["state"] == "delivered" and row["status"] == 200


def test_a_500_is_retried_in_the_foreground(versions, receiver):
    versions.add_webhook(receiver.url, ["alias"], secret_env="HOOK_SECRET")
    receiver.codes = [500]
    r = mvc_cmd("alias", "set", "M:v1", "production")
    assert r.returncode == 0
    assert [q["code"] for q in receiver.requests] == [500, 200]
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]   # the same delivery again
    states = [row["state"] for row in mvc.Api().webhook_log()]
    assert states == ["delivered", "retrying"]
    log = mvc_cmd("webhook", "log", "--json")
    assert [row["status"] for row in json.loads(log.stdout)] == [200, 500]


def test_nothing_is_sent_for_a_vetoed_or_refused_move(versions, receiver, project):
    versions.add_webhook(receiver.url, "alias,link", secret_env="HOOK_SECRET")
    veto = project / ".mvc" / "hooks" / "pre-alias"
    veto.write_text("#!/bin/sh\necho 'frozen'\nexit 1\n")
    veto.chmod(0o755)
    r = mvc_cmd("alias", "set", "M:v1", "production")
    assert r.returncode == 4 and "frozen" in r.stderr
    veto.unlink()
    versions.set_alias("M:v0", "production")
    versions.protect_alias("M", "production")
    with pytest.raises(ProtectedAliasError):
        versions.set_alias("M:v1", "production")
    assert [(d["alias"], d["new"]) for d in receiver.delivered()] == [("production", "v0")]
    assert len(receiver.requests) == 1


def test_a_down_receiver_is_logged_and_retried_later_once(versions, receiver, project):
    versions.add_webhook(receiver.url, "alias", secret_env="HOOK_SECRET")
    receiver.codes = [503, 503, 503]
    assert mvc_cmd("alias", "set", "M:v1", "production").returncode == 0   # the change stands
    assert len(receiver.requests) == 3 and receiver.delivered() == []
    assert mvc.Api().webhook_log()[0]["state"] == "retry-later"
    assert len(os.listdir(project / ".mvc" / "events" / "spool")) == 1
    assert mvc_cmd("ls").returncode == 0 and len(receiver.requests) == 3    # its backoff has not passed
    r = mvc_cmd("webhook", "retry")
    assert r.returncode == 0 and "delivered 1" in r.stdout
    assert [d["new"] for d in receiver.delivered()] == ["v1"]
    assert mvc_cmd("webhook", "retry").returncode == 0 and len(receiver.delivered()) == 1
    assert os.listdir(project / ".mvc" / "events" / "spool") == []


def test_a_missing_secret_sends_nothing_unsigned(versions, receiver):
    versions.add_webhook(receiver.url, "alias", secret_env="HOOK_SECRET")
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"HOOK_SECRET": ""})
    assert r.returncode == 0 and receiver.requests == []
    assert "HOOK_SECRET is not set" in mvc.Api().webhook_log()[0]["error"]
    assert mvc_cmd("webhook", "retry").returncode == 0                      # the variable is set here
    (req,) = receiver.requests
    assert req["headers"]["X-Mvc-Signature"].startswith("sha256=")


def test_a_client_error_is_not_retried_by_itself(versions, receiver):
    versions.add_webhook(receiver.url, "alias", secret_env="HOOK_SECRET")
    receiver.codes = [401]
    assert mvc_cmd("alias", "set", "M:v1", "production").returncode == 0
    assert len(receiver.requests) == 1 and mvc.Api().webhook_log()[0]["state"] == "failed"
    assert mvc_cmd("ls").returncode == 0 and len(receiver.requests) == 1
    assert mvc_cmd("webhook", "retry").returncode == 0 and len(receiver.delivered()) == 1


def test_webhook_cli_add_ls_rm_and_bad_input(versions, receiver):
    r = mvc_cmd("webhook", "add", receiver.url, "--event", "alias:prod{1,2}", "--event", "log",
                "--secret-env", "HOOK_SECRET")
    assert r.returncode == 0, r.stderr
    (hook,) = json.loads(mvc_cmd("webhook", "ls", "--json").stdout)
    assert hook["events"] == [{"kind": "alias", "match": "prod{1,2}"}, {"kind": "log", "match": None}]
    assert hook["secret_env"] == "HOOK_SECRET" and SECRET not in json.dumps(hook)
    for args, words in ((["file:///etc/passwd", "--event", "alias"], "http"),
                        ([receiver.url, "--event", "merge"], "unknown webhook event"),
                        ([receiver.url, "--event", "alias:("], "regular expression"),
                        ([receiver.url, "--event", "alias", "--secret-env", "not a var"], "variable")):
        bad = mvc_cmd("webhook", "add", *args)
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
    assert mvc_cmd("webhook", "rm", hook["id"]).returncode == 0
    assert json.loads(mvc_cmd("webhook", "ls", "--json").stdout) == []
    with pytest.raises(InvalidInputError):
        mvc.Api().add_webhook("ftp://x/y", "alias")


def test_a_crash_after_the_commit_still_posts_once(versions, receiver):
    versions.add_webhook(receiver.url, "alias", secret_env="HOOK_SECRET")
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"MVC_TEST_CRASH_AT": "alias:after-ref-move"})
    assert r.returncode == -9 and receiver.requests == []
    assert mvc_cmd("ls").returncode == 0                       # the next command delivers it
    assert mvc_cmd("ls").returncode == 0
    assert [(d["alias"], d["new"]) for d in receiver.delivered()] == [("production", "v1")]
    assert len(receiver.requests) == 1
