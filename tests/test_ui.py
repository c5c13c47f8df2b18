"""`mvc ui` in a real browser: Playwright drives Debian's Chromium against `mvc ui --no-open`
run as a subprocess on a store built here (two versions of a small safetensors model, a run
that used the first and logged the second, an alias move, a registry link).

Chromium missing is a failure, not a skip: CI installs it (.ci/run).  Set
MVC_UI_SCREENSHOTS=docs to rewrite the screenshots the docs show.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import re
import selectors
import signal
import struct
import subprocess
import sys
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
URL_LINE = re.compile(r"mvc ui: open (http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+))")


# ---- the store ---------------------------------------------------------------------------
def write_safetensors(path: str, tensors: dict) -> None:
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def f32(values) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def make_model(folder: str, scale: float, with_head: bool) -> str:
    """config.json and model.safetensors; v1 scales dense.weight and adds head.weight."""
    os.makedirs(folder)
    rng = random.Random(7)
    weight = [rng.uniform(-1, 1) * scale for _ in range(64 * 32)]
    tensors = {"dense.weight": ("F32", [64, 32], f32(weight)), "dense.bias": ("F32", [32], f32([0.0] * 32))}
    if with_head:
        tensors["head.weight"] = ("F32", [32, 4], f32([0.5] * 128))
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"hidden": 32, "layers": 2 if with_head else 1}, f)
    return folder


def build_store(root: str) -> str:
    import mvc
    store = os.path.join(root, "store")
    with mvc.init(project="vision", dir=store, config={"lr": 0.01}, job_type="train") as run:
        run.log_model(make_model(os.path.join(root, "m0"), 1.0, False), name="resnet", aliases=["best"],
                      metadata={"accuracy": 0.91, "note": HOSTILE})
    with mvc.init(project="vision", dir=store, config={"lr": 0.001}, job_type="fine-tune") as run:
        run.use_model("resnet:v0", root=os.path.join(root, "used"))
        run.log({"loss": 0.42})
        run.log({"loss": 0.17})
        run.log_model(make_model(os.path.join(root, "m1"), 1.01, True), name="resnet",
                      metadata={"accuracy": 0.94}, description="fine-tuned " + HOSTILE)
    api = mvc.Api(store, "vision")
    api.set_alias("vision/resnet:v1", "best")                      # best: v0 -> v1
    api.artifact("vision/resnet:v1").link("registry/resnet-prod", aliases=["staging"])
    return store


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"MVC_SILENT": "1", "MVC_SERVER": "0", "MVC_USER": "tester",
                     "MVC_EMAIL": "tester@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)}.items():
            mp.setenv(k, v)
        for k in ("MVC_DIR", "MVC_PROJECT", "MVC_ARTIFACT_DIR"):
            mp.delenv(k, raising=False)
        return build_store(str(root))


# ---- the server ---------------------------------------------------------------------------
class UiServer:
    def __init__(self, proc: subprocess.Popen, url: str, port: int, token: str):
        self.proc, self.url, self.port, self.token = proc, url, port, token
        self.base = f"http://127.0.0.1:{port}"


def start_ui(store: str, *extra: str) -> UiServer:
    """`mvc ui --no-open` as a subprocess; returns once it printed its URL."""
    env = dict(os.environ, MVC_SERVER="0", MVC_SILENT="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "mvc", "-C", store, "ui", "--no-open", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + 60, b""
    while time.monotonic() < deadline:
        if not sel.select(timeout=1):
            assert proc.poll() is None, f"mvc ui exited: {proc.stderr.read()!r}"
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)     # raw reads: a buffered readline can hide lines
        assert chunk, f"mvc ui closed its output: {seen!r} {proc.stderr.read()!r}"
        seen += chunk
        m = URL_LINE.search(seen.decode())
        if m:
            return UiServer(proc, m.group(1), int(m.group(2)), m.group(3))
    proc.kill()
    raise AssertionError(f"mvc ui printed no URL within 60 s: {seen!r}")


def stop_ui(server: UiServer) -> None:
    """Stop it as a user does, with Ctrl-C."""
    server.proc.send_signal(signal.SIGINT)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def ui(ui_store):
    server = start_ui(ui_store)
    yield server
    stop_ui(server)


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), (f"{CHROMIUM} is missing: the UI tests need Debian's Chromium "
                                      "(apt-get install -y chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, ui):
    context = browser.new_context(viewport={"width": 1100, "height": 520})
    pg = context.new_page()
    errors = []                  # script errors, CSP refusals, and any style or icon that failed to load
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text)
          if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.on("response", lambda r: errors.append(f"{r.status} {r.url}")
          if r.status >= 400 and r.request.resource_type != "document" else None)
    pg.goto(ui.url)
    yield pg
    context.close()
    assert errors == []


def shot(page, name: str, tmp_path) -> None:
    """A screenshot of the page: into MVC_UI_SCREENSHOTS (docs/ui-<name>.png) when set."""
    folder = os.environ.get("MVC_UI_SCREENSHOTS") or str(tmp_path)
    path = os.path.join(folder, f"ui-{name}.png")
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 1000


def size_of(store: str, folder: str) -> str:
    """The size the pages should show for the files of ``folder`` (beside the store)."""
    from mvc.ui.views import human_size
    root = os.path.join(os.path.dirname(store), folder)
    return human_size(sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)))


def request(server: UiServer, path: str, host: str | None = None, headers: dict | None = None,
            method: str = "GET", body: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    data = body.encode() if body is not None else None
    if data is not None:
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    resp = conn.getresponse()
    resp.text = resp.read().decode()
    conn.close()
    return resp


# ---- the pages, clicked through -------------------------------------------------------------

def texts(page, selector: str) -> list[str]:
    """Every match's text once the page shows the first: all_inner_texts() does not wait, and
    right after a click that navigates it can read a page still loading (an empty list)."""
    found = page.locator(selector)
    found.first.wait_for()
    return found.all_inner_texts()

def test_click_through_artifact_version_lineage_diff(page, ui_store, tmp_path):
    assert page.url.endswith("/")                     # the token went into a cookie, out of the URL
    assert "token" not in page.url
    project = page.locator("#project-vision")
    assert "resnet" in project.inner_text() and "1 artifact · 2 runs" in project.inner_text()
    project.locator("summary").click()                  # the runs, folded away until asked for
    assert [r.split("\t")[2] for r in project.locator("table.runs tbody tr").all_inner_texts()] == ["fine-tune", "train"]
    shot(page, "home", tmp_path)

    page.click("a.artifact:text-is('resnet')")           # artifact: its versions
    assert page.locator("h1").inner_text().startswith("resnet")
    v1, v0 = page.locator("#row-v1"), page.locator("#row-v0")
    assert "best latest" in v1.inner_text() and size_of(ui_store, "m1") in v1.inner_text()
    assert "best" not in v0.inner_text() and size_of(ui_store, "m0") in v0.inner_text()
    assert "accuracy=0.91" in v0.inner_text()
    shot(page, "artifact", tmp_path)

    page.click("#alias-history")                          # the timeline
    moves = texts(page, "#timeline li")
    assert len(moves) == 4
    assert re.search(r"best\s+v0\s+→\s+v1", moves[0]) and "by tester" in moves[0]
    assert "added on v0" in moves[-1]
    shot(page, "aliases", tmp_path)
    page.go_back()

    page.click("a.version:text-is('v1')")                 # version: files, metadata, links
    assert page.locator("#files").inner_text().count("\n") >= 2
    files = texts(page, "#files tbody tr")
    assert [f.split("\t")[0] for f in files] == ["config.json", "model.safetensors"]
    assert '"accuracy": 0.94' in page.locator("#metadata").inner_text()
    assert "registry/resnet-prod:v0" in page.inner_text("dl.facts")
    shot(page, "version", tmp_path)

    page.click("#lineage")                                # lineage, drawn
    graph = page.locator("#lineage-graph")
    assert graph.locator("g.node.run").count() == 2 and graph.locator("g.node.artifact").count() == 2
    assert graph.locator("path.edge").count() == 3
    assert "resnet:v1" in graph.locator("g.node.root").text_content()
    shot(page, "lineage", tmp_path)
    graph.locator("g.node.artifact:not(.root) a").click()  # nodes are links
    assert page.url.endswith("/p/vision/a/resnet/v0")
    page.go_back()
    graph.locator("g.node.run", has_text="fine-tune").locator("a").click()
    assert "/runs/" in page.url
    assert "vision/resnet:v0" in page.inner_text("#inputs") and "vision/resnet:v1" in page.inner_text("#outputs")
    assert '"loss": 0.17' in page.inner_text("#summary")
    shot(page, "run", tmp_path)
    page.click("#lineage")                                # a run's own lineage
    assert "run" in page.locator("#lineage-graph g.node.root").get_attribute("class")
    page.go_back()
    page.click("#outputs a")

    page.select_option("#against", "v0")                  # diff against the other version
    page.click("#diff")
    assert page.url.endswith("/p/vision/a/resnet/v1/diff?against=v0&other=")
    assert "vision/resnet:v0 → vision/resnet:v1" in page.inner_text("h1")
    rows = {r.split("\t")[1]: r for r in texts(page, "#diff-files tbody tr")}
    assert set(rows) == {"config.json", "model.safetensors"}
    assert "1 changed, 1 added" in rows["model.safetensors"]
    tensors = {r.split("\t")[0]: r for r in texts(page, "table.tensors tbody tr")}
    assert set(tensors) == {"dense.weight", "head.weight"}
    assert "changed" in tensors["dense.weight"] and "64×32" in tensors["dense.weight"]
    assert "added" in tensors["head.weight"]
    keys = texts(page, "table.keys tbody tr")
    assert len(keys) == 1 and keys[0].split("\t")[:4] == ["/layers", "changed", "1", "2"]
    shot(page, "diff", tmp_path)


def test_registry_and_its_links(page, tmp_path):
    page.click("nav a:text-is('Registry')")
    model = page.locator("#model-resnet-prod")
    text = model.inner_text()
    assert "vision/resnet:v1" in text and "staging" in text and "1 link" in text
    shot(page, "registry", tmp_path)
    model.locator("a.model").click()
    moves = texts(page, "#timeline li")
    assert any(re.search(r"staging\s+added on v0", m) for m in moves)
    page.click("#link-v0 a:text-is('vision/resnet:v1')")
    assert page.url.endswith("/p/vision/a/resnet/v1")
    page.fill("#other", "registry/resnet-prod:staging")   # any address, here the link to this version
    page.click("#diff")
    assert "via registry/resnet-prod:v0" in page.inner_text("h1 + p")
    assert "Identical" in page.inner_text("#identical")
    page.goto(page.url.replace("registry%2Fresnet-prod%3Astaging", "resnet%3Av0"))
    assert "vision/resnet:v0 → vision/resnet:v1" in page.inner_text("h1")


def test_store_text_is_escaped_not_run(page, ui):
    for path in ("/p/vision/a/resnet/v0", "/p/vision/a/resnet/v1", "/p/vision/a/resnet"):
        page.goto(ui.base + path)
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("main script, main img").count() == 0
        assert "<script>window.pwned=1</script>" in page.inner_text("main")
    assert page.locator("script").count() == 0            # the pages carry no script at all


def test_unknown_version_is_a_404_page_with_a_hint(page, ui):
    resp = page.goto(ui.base + "/p/vision/a/resnet/v9")
    assert resp.status == 404
    assert "v9" in page.inner_text("#error")


def test_a_path_segment_must_be_a_name(ui):
    jar = {"Cookie": f"mvc-ui-{ui.port}={ui.token}"}
    assert request(ui, "/p/vision/a/res%2Fnet", headers=jar).status == 400   # never project 'res'
    spaced = request(ui, "/p/vision/a/res%20net", headers=jar)
    assert spaced.status == 400 and "artifact name" in spaced.text
    assert request(ui, "/p/vision/a/resnet/best", headers=jar).status == 400
    assert request(ui, "/p/registry/a/resnet", headers=jar).status == 400
    assert request(ui, "/p/vision/a/resnet/v1", headers=jar).status == 200


# ---- who may ask ----------------------------------------------------------------------------
def test_requests_without_the_token_or_for_another_host_are_refused(ui):
    assert request(ui, "/").status == 403
    assert "token" in request(ui, "/").text
    assert request(ui, "/?token=wrong").status == 403
    assert request(ui, "/p/vision/a/resnet", headers={"Cookie": f"mvc-ui-{ui.port}=wrong"}).status == 403
    assert request(ui, f"/?token={ui.token}", host="evil.example").status == 403          # DNS rebinding
    assert request(ui, f"/?token={ui.token}", host=f"evil.example:{ui.port}").status == 403
    refused = request(ui, f"/?token={ui.token}", host=f"attacker.test:{ui.port}")
    assert "host" in refused.text.lower() and refused.getheader("set-cookie") is None

    first = request(ui, f"/registry?token={ui.token}")                               # the token's one use
    assert first.status == 303 and first.getheader("location") == "/registry"
    cookie = first.getheader("set-cookie")
    assert cookie.startswith(f"mvc-ui-{ui.port}={ui.token};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = {"Cookie": f"mvc-ui-{ui.port}={ui.token}"}
    ok = request(ui, "/registry", headers=jar)
    assert ok.status == 200 and "resnet-prod" in ok.text
    assert "script-src" not in ok.getheader("content-security-policy")
    assert "default-src 'none'" in ok.getheader("content-security-policy")
    assert request(ui, "/registry", host=f"localhost:{ui.port}", headers=jar).status == 200
    assert request(ui, "/registry", host="evil.example", headers=jar).status == 403
    assert request(ui, "//evil.example/?token=" + ui.token).getheader("location") == "/evil.example/"


def test_read_only_refuses_writes(ui, ui_store):
    jar = {"Cookie": f"mvc-ui-{ui.port}={ui.token}"}
    resp = request(ui, "/p/vision/a/resnet/aliases", headers=jar, method="POST",
                   body=f"token={ui.token}&alias=prod&version=v0&action=set")
    assert resp.status == 403 and "--write" in resp.text
    import mvc
    assert "prod" not in mvc.Api(ui_store, "vision").artifact("resnet:v0").aliases
    page_html = request(ui, "/p/vision/a/resnet/aliases", headers=jar).text
    assert "<form class=\"aliasform\"" not in page_html


def test_write_mode_moves_an_alias_from_the_page(browser, ui_store):
    import mvc
    server = start_ui(ui_store, "--write")
    try:
        jar = {"Cookie": f"mvc-ui-{server.port}={server.token}"}
        body = "alias=prod&version=v0&action=set"
        assert request(server, "/p/vision/a/resnet/aliases", headers=jar, method="POST", body=body).status == 403
        assert request(server, "/p/vision/a/resnet/aliases", method="POST",
                       headers=dict(jar, Origin=f"http://127.0.0.1:{server.port + 1}"),
                       body=f"token={server.token}&{body}").status == 403
        assert "prod" not in mvc.Api(ui_store, "vision").artifact("resnet:v0").aliases

        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url)
        page.goto(server.base + "/p/vision/a/resnet/aliases")
        page.fill("input[name=alias]", "prod")
        page.select_option("select[name=version]", "v0")
        page.click("button[value=set]")
        assert page.url.endswith("/p/vision/a/resnet/aliases")
        assert re.search(r"prod\s+added on v0", page.locator("#timeline li").first.inner_text())
        assert "prod" in mvc.Api(ui_store, "vision").artifact("resnet:v0").aliases
        page.fill("input[name=alias]", "latest")          # a bad alias: the API's error, shown
        page.click("button[value=set]")
        assert "latest" in page.inner_text("#error")
        page.goto(server.base + "/p/vision/a/resnet/aliases")
        page.fill("input[name=alias]", "prod")
        page.click("button[value=remove]")
        assert "prod" not in mvc.Api(ui_store, "vision").artifact("resnet:v0").aliases
        context.close()
    finally:
        stop_ui(server)
    assert server.proc.returncode == 0                    # Ctrl-C ends it cleanly
    assert b"Traceback" not in server.proc.stderr.read()


def test_a_damaged_ref_is_named_not_a_crash(ui_store, tmp_path):
    """A store is hostile input: an emptied artifact ref shows on the home page and as the typed
    error with its hint on the artifact's pages; everything else still shows."""
    import shutil

    from mvc.meta import refs
    store = shutil.copytree(ui_store, tmp_path / "store")
    (store / ".mvc" / refs.artifact("vision", "resnet")).write_bytes(b"")
    server = start_ui(str(store))
    try:
        jar = {"Cookie": f"mvc-ui-{server.port}={server.token}"}
        home = request(server, "/", headers=jar)
        assert home.status == 200 and "Unreadable refs" in home.text and "artifact vision/resnet" in home.text
        broken = request(server, "/p/vision/a/resnet/v1", headers=jar)
        assert broken.status == 500 and "is damaged" in broken.text and "mvc fsck --repair" in broken.text
        models = request(server, "/registry", headers=jar)
        assert models.status == 200 and "resnet-prod" in models.text
    finally:
        stop_ui(server)
    assert b"Traceback" not in server.proc.stderr.read()


# ---- the command ------------------------------------------------------------------------------
def test_missing_ui_dependency_says_what_to_install(ui_store):
    code = ("import sys, runpy; sys.modules['uvicorn'] = None; "
            f"sys.argv = ['mvc', '-C', {ui_store!r}, 'ui', '--no-open']; runpy.run_module('mvc', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MVC_SERVER="0"))
    assert r.returncode == 1
    assert "uvicorn" in r.stderr and "pip install 'mvc-models[ui]'" in r.stderr
    assert "Traceback" not in r.stderr


def test_no_store_fails_before_serving(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mvc", "-C", str(tmp_path), "ui", "--no-open"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, MVC_SERVER="0"))
    assert r.returncode == 3 and "mvc ui: open" not in r.stdout


def test_a_port_in_use_is_a_clear_error(ui_store):
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "mvc", "-C", ui_store, "ui", "--no-open", "--port", str(port)],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, MVC_SERVER="0"))
    finally:
        taken.close()
    assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
    assert "Traceback" not in r.stderr
