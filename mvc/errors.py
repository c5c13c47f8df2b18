"""One exception hierarchy for mvc.

Every error carries a message saying what went wrong and a hint saying what to
do next.  The CLI prints ``str(err)`` without a traceback and exits with
``err.exit_code``; the table lives in docs/errors.md and in EXIT_CODES below.
"""
from __future__ import annotations


class MvcError(Exception):
    """Root of every error mvc raises on purpose."""

    exit_code = 1
    default_hint = ""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(MvcError):
    """The call itself is wrong (bad option, bad argument shape)."""

    exit_code = 2


class InvalidNameError(UsageError):
    """A name, alias or address breaks the naming rules."""


class InvalidInputError(UsageError):
    """Input data is unusable: missing path, bad metadata, escaping symlink."""


class NotFoundError(MvcError):
    exit_code = 3


class AmbiguousAddressError(MvcError):
    exit_code = 3


class ConflictError(MvcError):
    """The operation conflicts with the store's state (type clash, still aliased)."""

    exit_code = 4


class LockError(MvcError):
    """Another writer holds a lock (or left one behind)."""

    exit_code = 4


class ReadOnlyError(ConflictError):
    """The store, or a file of it, cannot be written by this process (read-only mount, permissions)."""


class UnsafeStoreError(ConflictError):
    """The store belongs to another user and is not marked safe (git's 'dubious ownership')."""


class HookVetoError(ConflictError):
    """A store-event hook (.mvc/hooks/pre-alias, pre-link) refused the change; nothing moved."""


class ProtectedAliasError(ConflictError):
    """The alias is protected (`mvc alias protect`): moving it needs --force or a pre-alias hook's yes."""


class IntegrityError(MvcError):
    """Stored bytes or metadata do not match their recorded digest, or a file the store
    must hold (its format file, git's HEAD) is missing."""

    exit_code = 5
    default_hint = "run `mvc fsck` to list every affected version"


class RemoteError(MvcError):
    exit_code = 6


class FormatError(MvcError):
    """The store uses a format version or feature this mvc does not know."""

    exit_code = 7
    default_hint = "upgrade mvc (pip install -U mvc-models); the store was left untouched"


class StorageFullError(MvcError):
    exit_code = 8


EXIT_CODES = {
    0: "success",
    1: "MvcError (any error not listed below)",
    2: "UsageError, InvalidNameError, InvalidInputError: fix the command or its input",
    3: "NotFoundError, AmbiguousAddressError: the address names nothing, or more than one thing",
    4: "ConflictError, LockError, ReadOnlyError, UnsafeStoreError, HookVetoError, ProtectedAliasError: the store's "
       "state (or a hook, or a protected alias) forbids it now",
    5: "IntegrityError: stored bytes do not match their digest, or the store is damaged",
    6: "RemoteError: a remote failed or refused",
    7: "FormatError: the store is newer than this mvc",
    8: "StorageFullError: not enough disk space",
}
