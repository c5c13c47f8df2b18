"""STYLE 1: layers are folders and imports point down only (parsed with ast)."""
from __future__ import annotations

import ast
import pathlib

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


def _imports(path: pathlib.Path) -> set[str]:
    """Absolute 'mvc.x.y' names imported by a module (relative imports resolved)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    pkg_parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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


def test_resolver_sees_relative_imports():
    # the checker itself must catch an upward import written relatively
    repo_mod = PKG / "repo" / "repository.py"
    found = _imports(repo_mod)
    assert "mvc.meta" in found and "mvc.store" in found
