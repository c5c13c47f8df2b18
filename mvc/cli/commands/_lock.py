"""`mvc use --save` and `mvc use --locked` (mvc.lock), kept out of use.py."""
from __future__ import annotations

import click

from .. import output


def check_use_options(c, address, root, include, save, locked) -> bool:
    """Refuse option clashes; run `use --locked` (True: done).  False: go on with a plain use."""
    from mvc.errors import UsageError
    if locked and save:
        raise UsageError("--locked and --save do not go together", "--save pins a version; --locked restores the pins")
    if locked and (root or include):
        raise UsageError("--locked restores each pin into the folder mvc.lock names; -o and --include do not apply",
                         "drop -o/--include, or use the version without --locked")
    if save and include:
        raise UsageError("--save pins a whole version; --include fetches part of one",
                         "drop --include to pin it, or --save to fetch part of it")
    if locked:
        _use_locked(c, address)
        return True
    if save and root:
        from mvc.api.lock import pin_folder
        pin_folder(root)  # refused before anything is fetched
    if address is None:
        raise UsageError("missing ADDRESS", "write e.g. `mvc use MNIST:v3`, or `mvc use --locked` for mvc.lock's pins")
    return False


def _use_locked(c, address) -> None:
    from mvc.api.lock import pin_key
    api = c.api()
    keys = [pin_key(address)] if address else None
    with c.start_run() as run, output.Progress("fetching", None, c.quiet) as meter:
        rows = api.use_locked(keys=keys, progress=meter, run=run)
    for r in rows:
        output.echo(f"{r['action']:9}  {r['key']}  {r['project']}/{r['name']}:{r['version']}  -> {r['path']}")
    if not rows:
        click.echo("mvc: mvc.lock pins nothing", err=True)


def save_pin(c, address, art, root) -> None:
    from mvc.api.artifact import default_root
    from mvc.api.lock import save_pin as save
    row = save(c.api(), address, art, default_root(art.name, art.version, root))
    if not c.quiet:
        click.echo(f"mvc: pinned {row['key']} = {row['project']}/{row['name']}:{row['version']} "
                   f"({row['digest'][:12]}) in {output.safe(row['lock'])} -> {row['path']}", err=True)
