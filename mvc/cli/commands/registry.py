"""mvc registry ls|show|unlink|alias: the store-wide model registry."""
import click

from .. import context, output, views


@click.group(short_help="List, show, unlink and alias registered models.")
def command() -> None:
    """Registered models hold links (pointers, never copies) to artifact
    versions, numbered v0, v1, ... in link order, with their own aliases."""


@command.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def ls(as_json) -> None:
    """Every registered model: links, latest source version, aliases."""
    api = context.get().api()
    rows = [views.model_row(m) for m in api.registered_models()]
    if as_json:
        output.emit_json(rows)
    else:
        output.table([[r["name"], r["links"], r["latest"] or "-",
                       " ".join(f"{a}:{v}" for a, v in sorted(r["aliases"].items()) if a != "latest") or "-"]
                      for r in rows], ["name", "links", "latest", "aliases"], empty="(no registered models)")
    output.report_unreadable(api, "registry")


@command.command("show")
@click.argument("model", metavar="REGISTERED_MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def show(model, as_json) -> None:
    """The links of one registered model: link version, source version, aliases, when."""
    m = context.get().api().registered_model(_bare(model))
    d = dict(views.model_row(m), links=[views.link_row(li) for li in m.links()])
    if as_json:
        output.emit_json(d)
        return
    output.echo(f"registry/{d['name']}" + (f": {d['description']}" if d["description"] else ""))
    output.table([[r["version"], r["source"], ", ".join(r["aliases"]) or "-", output.short_time(r["linked_at"]),
                   r["run"] or "-"] for r in d["links"]], ["link", "source", "aliases", "linked", "run"],
                 empty="(no links)")


@command.command("unlink")
@click.argument("link", metavar="REGISTERED_MODEL:vN")
def unlink(link) -> None:
    """Remove one link.  The artifact version it pointed at is untouched."""
    model, version = _link_address(link)
    context.get().api().registered_model(model).unlink(version)
    output.echo(f"unlinked registry/{model}:{version}")


@command.command("alias")
@click.argument("link", metavar="REGISTERED_MODEL[:vN]")
@click.argument("alias")
@click.option("--rm", "remove", is_flag=True, help="Remove ALIAS from the model instead of setting it.")
@click.option("--force", is_flag=True, help="Move or remove ALIAS even if it is protected (`mvc alias protect`).")
def alias(link, alias, remove, force) -> None:
    """Point registry ALIAS (production, staging, ...) at link vN, or remove it with --rm."""
    api = context.get().api()
    if remove:
        api.remove_alias(f"registry/{_bare(link)}", alias, force=force)
        output.echo(f"removed {alias} from registry/{_bare(link)}")
        return
    model, version = _link_address(link)
    old = api.set_alias(f"registry/{model}:{version}", alias, force=force)
    output.echo(f"{alias}: {old or '-'} -> registry/{model}:{version}")


def _bare(model: str) -> str:
    return model[len("registry/"):] if model.startswith("registry/") else model


def _link_address(text: str) -> tuple[str, str]:
    """'MODEL:v1' or 'registry/MODEL:v1' -> ('MODEL', 'v1')."""
    from mvc.errors import UsageError
    from mvc.names import parse_address
    addr = parse_address("registry/" + _bare(text))
    if not addr.version:
        raise UsageError(f"{text!r} does not name a link", "write REGISTERED_MODEL:v<N>, e.g. MNIST-prod:v0")
    return addr.name, addr.version
