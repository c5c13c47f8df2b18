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
        _log(store, os.path.join(root, "a"), {"w": ("F32", (4096,), w.tobytes()), "scale": ("F32", (), one),
                                              "bias": ("F32", (), one)})
        _log(store, os.path.join(root, "b"), {"w": ("F32", (4096,), w2.tobytes()), "scale": ("F32", (), two),
                                              "bias": ("F32", (1,), one)})
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
