"""Words mvc shows: text from a store as one line: every control, format, separator or surrogate character
escaped as Python writes it (\\n, \\x1b, \\u2028, \\u202e), so quoted text can neither fake a
line nor send a terminal a control sequence.  The CLI prints through it (cli/output.py
``safe``), and commit messages quote names through it (a NUL cannot be in a git commit)."""
from __future__ import annotations

_ESCAPED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format (bidi, zero-width), surrogates, separators


def escaped(text) -> str:
    """``text`` (anything; str() of it) with every unsafe character escaped (see the module)."""
    text = str(text)
    if text.isprintable():  # the common case: no character to look at
        return text
    import unicodedata
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


def counted(n: int, noun: str) -> str:
    """``1 file``, ``2 files``: a count and its noun, plural when it is not one (the CLI's and
    the web page's words alike)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _escape(c: str) -> str:
    if c in _ESCAPED:
        return _ESCAPED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
