"""Hints as a CLI user reads them.

An error's hint is written once, where the error is raised, and that code does not
know which face will report it: the Python API (``err.hint``, ``str(err)``) or the
command line.  A Python user is told `pass verify=False`; the same error reaching a
CLI user must say `pass --no-verify` instead.  ``for_cli`` rewrites every Python
form a hint may hold into its command-line form, and drops a "(Python: ...)" aside
written for the other face.

The rule tests/test_cli_habits.py holds every hint to: below the API (mvc.repo, store,
meta, hooks, remote and the shared top-level modules) an error reaches both faces the
same way, so a hint there that names a Python option needs a rewrite here, unless the
test lists it as one only a Python caller can meet (a wrong argument type, a draft
artifact).  In mvc/api a hint answers the Python caller of that very call; the CLI checks
its input before such a call, or the hint gets a rewrite here too (lineage's depth).
"""
from __future__ import annotations

import re

# (pattern, replacement), applied in order.  Specific forms first, then general ones.
REWRITES: list[tuple[str, str]] = [
    (r";\s*Python:[^)]*", ""),                                        # "(`mvc x --force`; Python: force=True)"
    (r"\s*\(Python:[^)]*\)", ""),                                     # "(Python: force=True)"
    (r"delete_aliases=True \((`mvc delete )?--delete-aliases`?\)", "--delete-aliases"),
    (r"delete_aliases=True", "--delete-aliases"),
    (r"verify=False", "--no-verify"),
    (r"link='(\w+)' \(or '(\w+)'", r"--link \1 (or --link \2"),
    (r"link='(\w+)'", r"--link \1"),
    (r"--include \(include=\[\.\.\.\]\)", "--include"),
    (r"include=\[\.\.\.\]", "--include GLOB"),
    (r"root=/-o", "-o"),
    (r"pass direction='up', 'down' or 'both'", "pass --direction up, down or both"),
    (r"pass depth=None for any depth, or e\.g\. depth=2", "leave out --depth for any depth, or pass e.g. --depth 2"),
    (r"pass name= with", "pass --name with"),
    (r"pass entity=(\S+) \(or leave entity out\)", r"write the address with entity \1 (or none)"),
    (r"exclude=\['([^']*)', '([^']*)'\]", r"--exclude '\1' --exclude '\2'"),
    (r"force=True", "--force"),
    (r"pass a dict such as", "pass --metadata a JSON object such as"),
]
_COMPILED = [(re.compile(p), r) for p, r in REWRITES]


def for_cli(hint: str) -> str:
    """``hint`` with each Python form (``verify=False``, ``link='copy'``) in its CLI form."""
    for pattern, replacement in _COMPILED:
        hint = pattern.sub(replacement, hint)
    return hint
