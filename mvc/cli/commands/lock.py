"""mvc lock check: are the model versions pinned in mvc.lock present and intact (for CI)."""
import click

from .. import context, output


@click.group(short_help="Check the model versions pinned in mvc.lock.")
def command() -> None:
    """mvc.lock (top of the git work tree) pins the model versions the code uses:
    `mvc use ADDRESS -o DIR --save` writes a pin, `mvc use --locked` restores them."""


@command.command("check")
@click.option("--lock", "lock", metavar="FILE", help="The lock file (default: mvc.lock at the top of the git work tree).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def check(lock, as_json) -> None:
    """Say, for each pin, whether its version is in the store with the pinned
    digest and all its chunks, and whether its folder (if restored) holds
    exactly its files. Exits 5 when any pin is missing, different or damaged."""
    report = context.get().api().lock_check(lock)
    if as_json:
        output.emit_json(report)
    else:
        output.table([[r["key"], f"{r['project']}/{r['name']}:{r['version']}", r["digest"][:12], r["store"],
                       r["path"], r["folder"]] for r in report["pins"]],
                     ["pin", "version", "digest", "store", "folder", "state"], empty="(mvc.lock pins nothing)")
    if not report["ok"]:
        from mvc.errors import IntegrityError
        bad = [r["key"] for r in report["pins"] if r["store"] != "ok" or r["folder"] not in ("ok", "absent")]
        raise IntegrityError(f"{len(bad)} pin{'s' if len(bad) > 1 else ''} of {report['lock']} not intact: "
                             f"{', '.join(bad)}", "pull the store from the remote the lock names, restore the "
                             "folders with `mvc use --locked`, or pin again with `mvc use ADDRESS --save`")
