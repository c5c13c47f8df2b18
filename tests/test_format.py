"""STYLE 5 / R18: a newer format or unknown mandatory feature is refused, and the
store is byte-identical afterwards."""
from __future__ import annotations

import json

import pytest

import mvc
from mvc.errors import FormatError
from mvc.repo import Repository
from conftest import snapshot_tree




@pytest.fixture
def populated(project, model_file):
    with mvc.init() as run:
        run.log_model(str(model_file), name="M")
    return project / ".mvc"


@pytest.mark.parametrize("fmt", [{"format": 3, "features": []}, {"format": 2, "features": ["packfiles-v9"]},
                                 {"format": "1"}, {"features": []}])
def test_unknown_format_refused_untouched(populated, project, fmt):
    (populated / "mvc-format.json").chmod(0o644)
    (populated / "mvc-format.json").write_text(json.dumps(fmt))
    before = snapshot_tree(project)
    for attempt in (lambda: Repository(str(populated)), lambda: Repository.find(str(project)),
                    lambda: mvc.Api(), lambda: mvc.Api(dir=str(project)), lambda: mvc.init(),
                    lambda: mvc.init(dir=str(populated))):
        with pytest.raises(FormatError) as ei:
            attempt()
        assert "upgrade mvc" in ei.value.hint
    if fmt.get("features"):
        assert "packfiles-v9" in str(ei.value)
    assert snapshot_tree(project) == before


def test_unreadable_format_file(populated, project):
    (populated / "mvc-format.json").write_bytes(b"\x00garbage")
    before = snapshot_tree(project)
    with pytest.raises(FormatError):
        mvc.Api()
    assert snapshot_tree(project) == before


def test_new_store_records_format(project):
    mvc.init().finish()
    info = json.loads((project / ".mvc" / "mvc-format.json").read_text())
    assert info == {"format": 2, "features": []}
