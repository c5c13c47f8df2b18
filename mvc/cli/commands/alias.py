"""mvc alias set|rm|history: move aliases and read their history."""
import click

from .. import context, output


@click.group(short_help="Set, remove, or show the history of aliases.")
def command() -> None:
    """Aliases are movable names on one version (or one registry link).
    `latest` moves by itself; v<N> names are reserved."""


@command.command("set")
@click.argument("address")
@click.argument("alias")
@click.option("--force", is_flag=True, help="Move ALIAS even if it is protected (`mvc alias protect`).")
def set_(address, alias, force) -> None:
    """Point ALIAS at the version ADDRESS names (NAME:v2, NAME@DIGEST,
    NAME:other-alias, or registry/MODEL:v1), moving it from where it was."""
    if ":" not in address and "@" not in address:
        from mvc.errors import UsageError
        raise UsageError(f"{address!r} does not name a version",
                         f"write e.g. {address}:v2 (list versions with `mvc ls {address}`)")
    api = context.get().api()
    old = api.set_alias(address, alias, force=force)
    target = _target(api, address)
    output.echo(f"{alias}: {old or '-'} -> {target}")


def _target(api, address: str) -> str:
    art = api.artifact(address)
    return f"registry/{art.via_link.model}:{art.via_link.link}" if art.via_link else art.address


@command.command("rm")
@click.argument("name")
@click.argument("alias")
@click.option("--force", is_flag=True, help="Remove ALIAS even if it is protected (`mvc alias protect`).")
def rm(name, alias, force) -> None:
    """Remove ALIAS from artifact NAME (or registry/MODEL)."""
    old = context.get().api().remove_alias(name, alias, force=force)
    output.echo(f"removed {alias}" + (f" (was {old})" if old else "") + f" from {name}")


@command.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def history(name, as_json) -> None:
    """Every alias move of NAME (or registry/MODEL), newest first: who, when,
    alias, from, to."""
    rows = [_row(h) for h in context.get().api().alias_history(name)]
    if as_json:
        output.emit_json(rows)
        return
    output.table([[output.short_time(r["when"]), r["who"], r["alias"], r["from"] or "-", r["to"] or "-", r["op"] or "-"]
                  for r in rows], ["when", "who", "alias", "from", "to", "op"], empty="(no alias changes)")


def _row(h: dict) -> dict:
    return {"alias": h["alias"], "from": h.get("from"), "to": h.get("to"), "who": h.get("who"),
            "email": h.get("email"), "when": output.iso_utc(h.get("when")), "op": h.get("op"),
            "run": h.get("run"), "commit": h.get("commit")}


@command.command("protect")
@click.argument("name")
@click.argument("alias")
def protect(name, alias) -> None:
    """Protect ALIAS of artifact NAME (or registry/MODEL): setting, moving or
    removing it then needs --force, or a pre-alias hook that says yes. Recorded
    in the alias history."""
    changed = context.get().api().protect_alias(name, alias)
    output.echo(f"{'protected' if changed else 'already protected:'} {alias} of {name}")


@command.command("unprotect")
@click.argument("name")
@click.argument("alias")
def unprotect(name, alias) -> None:
    """Lift the protection of ALIAS of artifact NAME (or registry/MODEL)."""
    changed = context.get().api().unprotect_alias(name, alias)
    output.echo(f"{'unprotected' if changed else 'not protected:'} {alias} of {name}")
