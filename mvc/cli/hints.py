"""Hints as a CLI user reads them.

An error's hint is written once, where the error is raised, and that code does not
know which face will report it: the Python API (``err.hint``, ``str(err)``) or the
command line.  A Python user is told `pass verify=False`; the same error reaching a
CLI user must say `pass --no-verify` instead.  ``for_cli`` rewrites every Python
form a hint may hold into its command-line form, and drops a "(Python: ...)" aside
written for the other face.  tests/test_cli_habits.py reads every hint in the mvc
package and fails when one names a Python option that has no rewrite here (or is
not on its list of hints that only Python calls can raise).
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
    (r"pass entity=('[^']*') \(or leave entity out\)", r"write the address with entity \1 (or none)"),
    (r"force=True", "--force"),
    (r"pass a dict such as", "pass --metadata a JSON object such as"),
]
_COMPILED = [(re.compile(p), r) for p, r in REWRITES]


def for_cli(hint: str) -> str:
    """``hint`` with each Python form (``verify=False``, ``link='copy'``) in its CLI form."""
    for pattern, replacement in _COMPILED:
        hint = pattern.sub(replacement, hint)
    return hint
