"""mvc config: settings in TOML at the store and user level (docs/cli.md, "Settings")."""
import click

from .. import context, output

KEY_HELP = "A setting such as user.name, core.project, use.link, remote.default or cache.max_size."


@click.group(short_help="Get, set and list settings (TOML, store and user level).")
def command() -> None:
    """Settings that were environment variables: who you are, the default project, how
    `use` links files, the default remote, the whole-file cache's size.  The environment
    variable wins over the store's `.mvc/config.toml`, which wins over the user's
    `~/.config/mvc/config.toml`.  A clone never copies a store's settings."""


@command.command("get", short_help="Print a setting's value.")
@click.argument("key")
@click.option("--show-origin", is_flag=True, help="Also print where the value comes from.")
def get_cmd(key, show_origin) -> None:
    """Print the value of KEY (exit 1 if it has none). """
    from mvc.api.settings import get_setting
    value, origin = get_setting(key, context.get().dir)
    if value is None:
        raise SystemExit(1)
    output.echo(f"{origin}  {value}" if show_origin else str(value))


@command.command("set", short_help="Set a setting in the store's (or the user's) file.")
@click.argument("key")
@click.argument("value")
@click.option("--user", is_flag=True, help="Write the user's file (~/.config/mvc/config.toml), not the store's.")
def set_cmd(key, value, user) -> None:
    """Set KEY to VALUE. The value is checked before anything is written."""
    from mvc.api.settings import set_setting
    path = set_setting(key, value, user=user, dir=context.get().dir)
    if not context.get().quiet:
        output.echo(f"{key} = {value}  ({path})", err=True)


@command.command("unset", short_help="Remove a setting from the store's (or the user's) file.")
@click.argument("key")
@click.option("--user", is_flag=True, help="Edit the user's file, not the store's.")
def unset_cmd(key, user) -> None:
    """Remove KEY (exit 1 if that file did not set it)."""
    from mvc.api.settings import unset_setting
    if not unset_setting(key, user=user, dir=context.get().dir):
        raise SystemExit(1)


@command.command("list", short_help="List every setting with its value and origin.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{key, value, origin, env, help}].")
def list_cmd(as_json) -> None:
    """Every known setting, its effective value and where it comes from."""
    from mvc.api.settings import settings
    rows = settings(context.get().dir)
    if as_json:
        output.emit_json(rows)
        return
    output.table([[r["key"], "" if r["value"] is None else r["value"], r["origin"], r["env"]] for r in rows],
                 ["key", "value", "origin", "environment"])
