"""mvc log: log files as a new version (records a run, job type `cli`)."""
import warnings

import click

from .. import context, output


@click.command(short_help="Log a file or folder as a new version of an artifact.")
@click.argument("path")
@click.option("--name", "-n", metavar="N", help="Artifact name (default: the basename of PATH, as `wandb artifact put` does).")
@click.option("--alias", "-a", "aliases", multiple=True, metavar="A", help="Alias for the version (repeatable).")
@click.option("--type", "-t", "type_", default="model", show_default=True, metavar="T", help="Artifact type.")
@click.option("--metadata", "-m", metavar="JSON", help="A JSON object of metadata, e.g. '{\"acc\": 0.93}'.")
@click.option("--description", "-d", metavar="D", help="Free-text description of the version.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag for the version (repeatable).")
@click.option("--exclude", "-x", "exclude", multiple=True, metavar="PATTERN",
              help="Leave out files matching PATTERN (gitignore syntax, repeatable), besides .mvcignore.")
@click.option("--from", "sources", multiple=True, metavar="ADDRESS",
              help="A version this one was made from (repeatable): recorded as an input of the run, so "
              "`mvc lineage` shows it (e.g. the base model of a fine-tune).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(path, name, aliases, type_, metadata, description, tags, exclude, sources, as_json) -> None:
    """Log PATH (a file, a folder, or a file:// reference) as a version of an
    artifact and print its address.  Content equal to an existing version makes
    no new version: that version gets the aliases and `latest` again.

    A folder's .git, .hg, .svn, .dvc and .mvc folders are left out (with a note),
    and so are __pycache__ and .DS_Store, the patterns of a .mvcignore at its root
    (gitignore syntax) and each --exclude PATTERN.  Symlinks are logged as the
    files they point to."""
    c = context.get()
    # A CLI user logs the same file again and again: the default name must be
    # stable across invocations, unlike the API's per-run default.
    name = name or _default_name(path)
    from mvc.api import checks
    checks.check_log_input(path, name, type_, aliases, metadata, description, tags, exclude)  # refused: no run
    # Resolved before the run starts (a bad one records no run), once each, and used as resolved.
    inputs = list({art.address: art for art in (c.api().artifact(a) for a in sources)}.values())
    with c.start_run() as run:
        for art in inputs:
            run.use_artifact(art)
        with output.Progress("logging", None, c.quiet) as meter, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "skipped ", UserWarning)  # printed below, as notes
            art = run.log_artifact(path, name=name, type=type_, aliases=list(aliases), metadata=metadata,
                                   description=description, tags=list(tags), progress=meter, exclude=list(exclude))
        res = run.last_log
        if not c.quiet:
            for note in res.notes:
                output.echo(f"mvc: note: {note}", err=True)
        created = res.created
    result = {"address": art.address, "name": art.name, "project": art.project, "version": art.version,
              "type": art.type, "created": created, "outcome": res.outcome, "digest": art.digest, "size": art.size,
              "files": art.file_count, "aliases": sorted(art.aliases), "run": run.id,
              "skipped": [s.path for s in res.skipped]}
    if as_json:
        output.emit_json(result)
        return
    how = _how(res.outcome, art.version)
    files = output.counted(art.file_count, "file")
    output.echo(f"{art.address}  ({how}; {files}, {output.human_size(art.size)}; "
               f"aliases: {', '.join(sorted(art.aliases))})")


def _how(outcome: str, version: str) -> str:
    """What a log did, in words: a new version, or what a re-log of vN's content changed."""
    if outcome == "new":
        return "new version"
    did = {"aliases": "aliases moved", "metadata": "metadata updated", "nothing": "nothing changed"}
    return f"same content as {version}: " + ", ".join(did[o] for o in outcome.split("+"))


def _default_name(path: str) -> str:
    import os

    from ...errors import InvalidNameError
    from ...names import check_name
    base = os.path.basename(os.path.normpath(path.split("://", 1)[-1]))
    try:
        return check_name(base, "artifact name")
    except InvalidNameError as e:
        raise InvalidNameError(f"the default name {base!r} breaks the name rules ({e.message})",
                               "pass --name with 1-128 characters of A-Z a-z 0-9 _ - .") from None
