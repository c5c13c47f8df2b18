"""An audit of `mvc ui` as a new user meets it (issue 14): each test here failed before the fix
it came with.  Playwright drives Debian's Chromium against `mvc ui --no-open` (tests/test_ui.py's
server and browser)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from diff_kit import safetensors
from test_ui import browser, start_ui, stop_ui  # noqa: F401  (browser: a fixture)


def _log(store: str, folder: str, tensors: dict) -> None:
    import mvc
    os.makedirs(folder)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(safetensors(tensors))
    with mvc.init(project="p", dir=store) as run:
        run.log_model(folder, name="m")


@pytest.fixture(scope="module")
def tuned_store(tmp_path_factory):
    """v0 -> v1: a fine-tune that moves 1 of 4096 weights by 1e-4 (cosine 1 - 6e-10), a scalar that
    changes, and a scalar that becomes a vector."""
    root = str(tmp_path_factory.mktemp("uiaudit"))
    store = os.path.join(root, "store")
    w = np.random.default_rng(3).standard_normal(4096).astype(np.float32)
    w2 = w.copy()
    w2[0] += np.float32(1e-4) * 40
    one, two = np.float32(1).tobytes(), np.float32(2).tobytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MVC_SILENT", "1")
        mp.delenv("MVC_DIR", raising=False)
        zeros = np.zeros(8, np.float32).tobytes()   # small: shares a chunk with the scalars, so read
        _log(store, os.path.join(root, "a"), {"w": ("F32", (4096,), w.tobytes()), "scale": ("F32", (), one),
                                              "bias": ("F32", (), one), "zeros": ("F32", (8,), zeros)})
        _log(store, os.path.join(root, "b"), {"w": ("F32", (4096,), w2.tobytes()), "scale": ("F32", (), two),
                                              "bias": ("F32", (1,), one), "zeros": ("F32", (8,), zeros)})
    a, b = w.astype(np.float64), w2.astype(np.float64)
    return store, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def ui_server(tuned_store):
    server = start_ui(tuned_store[0])
    yield server
    stop_ui(server)


def test_diff_page_shows_a_cosine_that_is_not_quite_one_and_scalar_shapes(browser, ui_server, tuned_store):  # noqa: F811
    """A fine-tune's cosine is 0.9999999...: six decimals showed "1.000000", the same as no change
    (the CLI prints 10 digits).  A scalar's shape () showed as an empty cell."""
    cosine = tuned_store[1]
    assert 0.999999 < cosine < 1
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(ui_server.url)
        page.goto(ui_server.base + "/p/p/a/m/v1/diff?against=v0")
        rows = {r[0]: r for r in (row.split("\t") for row in page.locator("table.tensors tbody tr").all_inner_texts())}
        shown = float(rows["w"][7])
        assert shown != 1.0 and abs(shown - cosine) < 1e-9, rows["w"]
        assert rows["w"][7] == format(cosine, ".10g")
        assert rows["scale"][3] == "scalar", rows["scale"]
        assert rows["bias"][3] == "scalar → 1", rows["bias"]
    finally:
        context.close()


def test_the_unchanged_count_does_not_claim_a_read_tensor_was_not_read(browser, ui_server, tuned_store):  # noqa: F811
    """"1 tensor unchanged (known from their chunks, not read); 2 read" (docs/ui-diff.png) said a
    tensor that was read and found equal was not read: the sentence now splits the two."""
    import mvc
    t = mvc.Api(tuned_store[0], "p").diff("m:v0", "m:v1")["files"][0]["tensors"]
    read_changed = sum(1 for x in t["changed"] if x["bytes_changed"] is not None)
    known = t["unchanged"] - (t["read"] - read_changed)
    assert t["unchanged"] == 1 and t["read"] == 3 and known == 0, t   # zeros: read, found equal
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(ui_server.url)
        page.goto(ui_server.base + "/p/p/a/m/v1/diff?against=v0")
        assert page.inner_text("#unchanged-1") == ("1 tensor unchanged (0 known from their chunks without "
                                                   "reading them); 3 read.")
    finally:
        context.close()


def test_the_diff_form_starts_at_the_previous_version(browser, tmp_path):  # noqa: F811
    """On v1 of v0..v3 the form offered v3 first, so one click on Diff showed v3 -> v1 (time run
    backwards: what v2 and v3 added shown as removed); it starts at v0, as a compare view does."""
    store = str(tmp_path / "store")
    rng = np.random.default_rng(5)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MVC_SILENT", "1")
        for i in range(4):
            _log(store, str(tmp_path / f"v{i}"), {"w": ("F32", (4,), rng.standard_normal(4).astype(np.float32).tobytes())})
    server = start_ui(store)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.url)
        page.goto(server.base + "/p/p/a/m/v1")
        assert page.locator("#against").input_value() == "v0"
        page.click("#diff")
        page.wait_for_url("**/diff?*")
        assert page.inner_text("h1") == "Diff p/m:v0 → p/m:v1"
        page.goto(server.base + "/p/p/a/m/v0")          # no earlier version: the newest other
        assert page.locator("#against").input_value() == "v3"
    finally:
        context.close()
        stop_ui(server)


def test_a_depth_too_large_is_not_called_fractional(ui_server):
    """?depth=99999 said "depth '99999' is not a whole number": it is one, over the 4 digits allowed."""
    from test_ui import request
    jar = {"Cookie": f"mvc-ui-{ui_server.port}={ui_server.token}"}
    resp = request(ui_server, "/p/p/a/m/v1/lineage?depth=99999", headers=jar)
    assert resp.status == 400 and "is not a whole number from 0 to 9999" in resp.text, resp.text
    assert request(ui_server, "/p/p/a/m/v1/lineage?depth=9999", headers=jar).status == 200


def test_a_change_to_a_large_value_still_shows_the_small_one(tmp_path, monkeypatch):
    """The diff keeps the small side of a change to a value over 4 KiB; the page said
    "(over 4 KiB: not shown)" for both sides."""
    import json

    import mvc
    from mvc.ui import views
    monkeypatch.setenv("MVC_SILENT", "1")
    store = str(tmp_path / "store")
    for i, value in enumerate(["small", "x" * 10_000]):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"k": value}))
        with mvc.init(project="p", dir=store) as run:
            run.log_model(str(folder), name="c")
    d = mvc.Api(store, "p").diff("c:v0", "c:v1")
    [row] = views.file_change(d["files"][0])["json_rows"]
    assert (row["old"], row["new"]) == ('"small"', "(over 4 KiB: not shown)"), row
