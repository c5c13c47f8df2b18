"""mvc link: put a version into a registered model."""
import click

from mvc.errors import MvcError

from .. import context, output


@click.command(short_help="Link a path (logged first) or an existing version into a registered model.")
@click.argument("source", metavar="(PATH | ADDRESS)")
@click.option("--to", "target", required=True, metavar="REGISTERED_MODEL", help="Registered model name.")
@click.option("--alias", "-a", "aliases", multiple=True, metavar="A", help="Registry alias on the link (repeatable).")
@click.option("--name", "-n", metavar="N",
              help="Artifact name when SOURCE is a path that gets logged (default: its basename, as `mvc log`).")
@click.option("--json", "as_json", is_flag=True, help="Print the link as JSON.")
def command(source, target, aliases, name, as_json) -> None:
    """Link SOURCE into registry/REGISTERED_MODEL, creating the model if needed.
    An existing path is logged first (as `mvc log` does); anything else is
    resolved as an address and that version is linked without re-logging.
    Linking never copies bytes; linking a linked version again returns its link.
    A path is logged under its basename unless --name (as `mvc log`), so an
    unchanged file links the same version again.  A protected registry alias
    is refused before the log; a link a hook refuses after the log leaves the
    version logged, and the error names it."""
    import os

    from mvc.names import check_alias, registered_model_target
    model = registered_model_target(target)  # NAME, registry/NAME or W&B's wandb-registry-model/NAME, model-registry/NAME
    for a in aliases:
        check_alias(a)  # refuse bad input before anything is logged
    c = context.get()
    if os.path.exists(source):
        from mvc.api import checks, linking

        from .log import _default_name
        name = name or _default_name(source)  # stable across calls, as `mvc log` (not run-<id>-<basename>)
        checks.check_log_input(source, name, "model")  # refused input records no run
        if aliases:  # a protected one is refused before the log and the run (the run would make the store)
            api = c.api(create=True)
            linking.check_link_aliases(api.repo, model, list(aliases), api.project, name)
        import warnings
        with c.start_run() as run:
            with output.Progress("logging", None, c.quiet) as meter, warnings.catch_warnings():
                warnings.filterwarnings("ignore", "skipped ", UserWarning)  # printed below, as notes (as `log`)
                art = run.log_model(source, name=name, progress=meter)
            for note in [] if c.quiet else run.last_log.notes:
                output.echo(f"mvc: note: {note}", err=True)
            try:
                link = run.link_artifact(art, target, list(aliases))
            except MvcError as e:  # a hook's veto: the version stays logged; say so, and how to link it
                raise linking.refused_after_log(e, source, art.address, model) from None
    else:
        if name:
            raise click.UsageError("--name applies only when SOURCE is a path to log")
        link = c.api().artifact(source).link(target, aliases=list(aliases))
    if as_json:
        output.emit_json({"address": link.address, "model": link.model, "version": link.version,
                          "source": link.source, "aliases": link.aliases, "linked_at": link.linked_at,
                          "run": link.run_id})
        return
    output.echo(f"{link.address} -> {link.source}  (aliases: {', '.join(link.aliases)})")
