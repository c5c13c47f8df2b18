"""How user strings become git ref components and tree entry names (docs/format.md,
"Refs" and "Artifact tree"), and back.

A user string never reaches git as it is: git refuses some names outright
(``model.lock``, ``a..b``, ``x.`` as ref components) and reads others as its own
(``.git`` in any spelling a filesystem folds to it), and a ref is a file, so two
names that differ only in case are one ref on a case-insensitive filesystem.

- ``encode_ref``: every character outside ``[a-z0-9_-]`` becomes ``%`` and two
  lower-case hex digits per byte of its UTF-8 encoding (``MNIST`` ->
  ``%4d%4e%49%53%54``).  The result is lower case, so distinct names stay distinct
  however a filesystem folds case, and it is always a valid ref component.
- ``encode_entry``: only what git or a filesystem could misread is escaped, so
  names stay readable (``model.safetensors``): ``%``, a leading ``.``, ``/``,
  ``~``, ``\\``, ``:``, control characters, and the bytes of a file name that is not
  UTF-8 (``os.fsdecode``'s surrogate escapes).

Decoding is strict: anything the encoder could not have produced is an
IntegrityError, since what a store holds is untrusted input.  Pure functions:
the format migration calls them too.
"""
from __future__ import annotations

import re

from ..errors import IntegrityError, InvalidInputError

_REF_KEEP = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_REF_RE = re.compile(r"(?:[a-z0-9_-]|%[0-9a-f]{2})+")

# Code points HFS+ ignores in names (git's next_hfs_char), so "\u200c.git" is ".git" there.
_HFS_IGNORED = frozenset(chr(c) for a, b in ((0x200C, 0x200F), (0x202A, 0x202E), (0x206A, 0x206F),
                                             (0xFEFF, 0xFEFF)) for c in range(a, b + 1))
_ENTRY_ALWAYS = frozenset("%/~\\:\x7f") | frozenset(map(chr, range(0x20))) | frozenset(map(chr, range(0x80, 0xA0)))
_PERCENT_RUN = re.compile(r"(?:%[0-9a-f]{2})+")
_BAD_PERCENT = re.compile(r"%(?![0-9a-f]{2})")
_ENTRY_ODD = re.compile("[%/~\\\\:\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # anything encode_entry may escape


def _hex(ch: str) -> str:
    return "".join(f"%{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))


# ---- ref components ------------------------------------------------------------
def encode_ref(s: str) -> str:
    """``s`` as one ref component: ``[a-z0-9_-]`` kept, anything else ``%xx`` per UTF-8 byte."""
    if not isinstance(s, str) or not s:
        raise InvalidInputError(f"cannot name a ref after {s!r}: a ref component is a non-empty string")
    try:
        return "".join(ch if ch in _REF_KEEP else "".join(f"%{b:02x}" for b in ch.encode("utf-8")) for ch in s)
    except UnicodeEncodeError:
        raise InvalidInputError(f"cannot name a ref after {s!r}: it is not Unicode text (a lone surrogate)",
                                "use a name of characters UTF-8 can encode") from None


def decode_ref(s: str) -> str:
    """The string ``encode_ref`` made ``s`` from; IntegrityError if it could not have made ``s``."""
    if not isinstance(s, str) or not _REF_RE.fullmatch(s):
        raise _bad("ref component", s, "it holds a character outside [a-z0-9_-] that is not escaped as "
                   "%xx with lower-case hex")
    try:
        out = _PERCENT_RUN.sub(lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8"), s)
    except UnicodeDecodeError:
        raise _bad("ref component", s, "its escapes are not UTF-8") from None
    if encode_ref(out) != s:
        raise _bad("ref component", s, "it escapes a character that is written as itself")
    return out


# ---- tree entry names --------------------------------------------------------------
def _lead(s: str) -> int:
    """The index of the first character HFS+ does not ignore (git's is_hfs_dotgit looks there for '.')."""
    i = 0
    while i < len(s) and s[i] in _HFS_IGNORED:
        i += 1
    return i


def encode_entry(name: str) -> str:
    """``name`` (one path component, or any user string) as a git tree entry name."""
    if isinstance(name, str) and name and not _ENTRY_ODD.search(name) and name[0] != "." \
            and name[0] not in _HFS_IGNORED:
        return name  # the usual case: nothing to escape
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"cannot store {name!r} as a tree entry: it must be a non-empty string")
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidInputError(f"cannot store {name!r} as a tree entry: it is not text nor a file name's bytes "
                                "(a lone surrogate that os.fsdecode never makes)") from None
    if raw.decode("utf-8", "surrogateescape") != name:
        raise InvalidInputError(f"cannot store {name!r} as a tree entry: its surrogate escapes spell UTF-8 text, "
                                "which os.fsdecode never does")
    lead = _lead(name)
    return "".join(_hex(ch) if ch in _ENTRY_ALWAYS or "\udc80" <= ch <= "\udcff" or (i == lead and ch == ".")
                   else ch for i, ch in enumerate(name))


def decode_entry(s: str) -> str:
    """The name ``encode_entry`` made ``s`` from; IntegrityError if it could not have made ``s``."""
    if not isinstance(s, str) or not s:
        raise _bad("tree entry", s, "it is empty")
    out = s
    if "%" in s:
        if _BAD_PERCENT.search(s):
            raise _bad("tree entry", s, "a '%' is not followed by two lower-case hex digits")
        out = _PERCENT_RUN.sub(_unescape_bytes, s)
    try:
        canonical = encode_entry(out)
    except InvalidInputError:
        canonical = None
    if canonical != s:
        raise _bad("tree entry", s, "it is not how mvc writes any name (a character left unescaped, or one "
                   "escaped that is written as itself)")
    return out


def _unescape_bytes(m: re.Match) -> str:
    return bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "surrogateescape")


def encode_path(path: str) -> str:
    """``encode_entry`` of each '/'-separated component."""
    return "/".join(encode_entry(p) for p in path.split("/"))


def decode_path(path: str) -> str:
    """``decode_entry`` of each '/'-separated component."""
    return "/".join(decode_entry(p) for p in path.split("/"))


def _bad(what: str, s, why: str) -> IntegrityError:
    return IntegrityError(f"{what} {s!r} in the metadata is not in mvc's encoding: {why}",
                          "the metadata is damaged or was not written by mvc: run `mvc fsck`; restore it from a "
                          "remote or a backup")
