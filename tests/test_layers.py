"""STYLE 1: layers are folders and imports point down only (parsed with ast)."""
from __future__ import annotations

import ast
import pathlib

import pytest

import mvc

PKG = pathlib.Path(mvc.__file__).parent
FORBIDDEN = {
    "store": {"meta", "repo", "remote", "hooks", "api", "ui", "cli"},
    "meta": {"store", "repo", "remote", "hooks", "api", "ui", "cli"},
    "hooks": {"repo", "remote", "api", "ui", "cli"},
    "repo": {"remote", "api", "ui", "cli"},
    "remote": {"api", "ui", "cli"},
    "api": {"ui", "cli"},
    "ui": {"cli", "repo", "remote", "hooks", "meta", "store"},
}


def _imports(path: pathlib.Path, source: str | None = None) -> set[str]:
    """Absolute 'mvc.x.y' names imported by a module (relative imports resolved); ``source``
    stands in for the file's text."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    pkg_parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                out.add(mod)
                if not node.module:  # from .. import repo
                    out |= {f"{mod}.{a.name}" for a in node.names}
            else:
                out.add(node.module or "")
                if node.module == "mvc":  # from mvc import repo
                    out |= {f"mvc.{a.name}" for a in node.names}
    return out


def _layer(modname: str) -> str | None:
    parts = modname.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "mvc" else None


def test_imports_point_down_only():
    violations = []
    checked = 0
    for layer, banned in FORBIDDEN.items():
        for path in sorted((PKG / layer).rglob("*.py")):
            checked += 1
            for imp in _imports(path):
                if _layer(imp) in banned:
                    violations.append(f"{path.relative_to(PKG.parent)} imports {imp}")
    assert checked >= 15
    assert violations == []


# The CLI goes through the API (issue 11, section 5): a CLI module may import mvc.cli, mvc.api,
# and of the top-level modules only these, which every layer shares: the typed errors, the name
# and address rules, the duration grammar, and the escaping of text from a store.  Everything else (mvc.repo, meta, store, remote,
# hooks, and helpers such as mvc.fsutil or mvc.paths that touch files) is reached through mvc.api.
# mvc.ui is the other face, not a layer below: `mvc ui` starts it, and it goes through mvc.api itself.
CLI_SHARED = {"errors", "names", "durations", "text", "__version__"}  # __version__: `mvc --version` (cli/launch.py)


def test_cli_goes_through_the_api_only():
    allowed = {"cli", "api", "ui"} | CLI_SHARED
    violations = [f"{path.relative_to(PKG.parent)} imports {imp}"
                  for path in sorted((PKG / "cli").rglob("*.py")) for imp in _imports(path)
                  if _layer(imp) is not None and _layer(imp) not in allowed]
    assert violations == []


@pytest.mark.parametrize("source", ["from mvc import repo", "from ...repo import layout", "import mvc.store.packs",
                                    "from mvc.fsutil import atomic_write"])
def test_cli_row_catches_an_import_below_the_api(source):
    # every spelling of an import below the API, from a command module, is seen
    probe = PKG / "cli" / "commands" / "probe.py"  # never written: its text is given
    assert {_layer(i) for i in _imports(probe, source)} - {"cli", "api", "ui", *CLI_SHARED}


def test_resolver_sees_relative_imports():
    # the checker itself must catch an upward import written relatively
    repo_mod = PKG / "repo" / "repository.py"
    found = _imports(repo_mod)
    assert "mvc.meta" in found and "mvc.store" in found
