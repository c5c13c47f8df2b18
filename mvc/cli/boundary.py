"""The CLI's one error boundary, without click: an MvcError (or a full or read-only disk) becomes
`mvc: error: ...` and `mvc: hint: ...` on stderr and the error's exit code.  The click group
(main.LazyGroup.invoke) and launch.py's quick `mvc ls` both end here."""
from __future__ import annotations

from mvc.errors import MvcError


def exit_code(exc: BaseException) -> int | None:
    """Report ``exc`` if the boundary owns it and return its exit code; None for anything else
    (the caller re-raises it)."""
    err = exc if isinstance(exc, MvcError) else typed_os_error(exc) if isinstance(exc, OSError) else None
    if err is None:
        return None
    report(err)
    return err.exit_code


def typed_os_error(exc: OSError) -> MvcError | None:
    """A full or read-only filesystem as the typed error it is; None for any other OSError."""
    from mvc.api.errors import typed_os_error as typed
    return typed(exc)


def report(err: MvcError) -> None:
    """The error and its hint on stderr, escaped (output.echo_block): a message may quote text from the store.
    The hint is the CLI's form of it (hints.for_cli): a CLI user is never told to pass `verify=False`."""
    from .hints import for_cli
    from .output import echo_block
    echo_block(f"mvc: error: {err.message}", err=True)
    if err.hint:
        echo_block(f"mvc: hint: {for_cli(err.hint)}", err=True)
