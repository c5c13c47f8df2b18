"""mvc use: materialise a version locally (records a run, job type `cli`)."""
import click

from .. import context, output


@click.command(short_help="Download a version into a folder and print its path.")
@click.argument("address")
@click.option("-o", "--output", "root", metavar="DIR", type=click.Path(file_okay=False),
              help="Folder to put the files in (default: $MVC_ARTIFACT_DIR or ./artifacts, then NAME:vN).")
@click.option("--include", "-i", multiple=True, metavar="GLOB", help="Only files matching GLOB (repeatable).")
@click.option("--link", "link", type=click.Choice(["copy", "hardlink", "symlink", "reflink", "auto"]),
              default="copy", show_default=True,
              help="How files get their bytes; hardlink/symlink files are read-only (they are the store's bytes).")
def command(address, root, include, link) -> None:
    """Materialise the version ADDRESS names (verified against its digests) and
    print the path: the file when it holds exactly one, else the folder.
    ADDRESS: NAME[:vN|:ALIAS], NAME@DIGEST, or registry/MODEL[:vN|:ALIAS]."""
    c = context.get()
    include = list(include) or None
    # Resolved once, here: a missing store or address fails before a run is recorded, and the
    # run uses this very version even if `latest` moves meanwhile.
    art = c.api().artifact(address)
    from mvc.errors import ReadOnlyError
    try:
        run = c.start_run()
    except ReadOnlyError as e:  # a reader needs no run record: use it unrecorded, and say so
        click.echo(f"mvc: note: not recorded as a run: {e.message}", err=True)
        with output.Progress("fetching", None, c.quiet) as meter:
            path = _download(art, root, include, meter, link)
        output.echo(path)
        return
    with run:
        with output.Progress("fetching", None, c.quiet) as meter:  # the download tells it the total
            if "model" in (art.type or ""):
                path = run.use_model(art, root=root, include=include, progress=meter, link=link)
            else:
                path = _use_any(run, art, root, include, meter, link)
    output.echo(path)


def _download(art, root, include, meter, link) -> str:
    """A use without a run: the version's files (the file when it holds exactly one, as use_model)."""
    import os

    from ...repo.repository import matches_include
    folder = art.download(root, include, progress=meter, link=link)
    files = [f for f in art.files() if not include or matches_include(f.path, include)]
    return os.path.join(folder, *files[0].path.split("/")) if len(files) == 1 else folder


def _use_any(run, art, root, include, meter, link="copy") -> str:
    """Non-model types: use_artifact + download (the general form); the file if exactly one was fetched."""
    import os

    from ...repo.repository import matches_include  # lazy: `mvc --help` imports no store code
    art = run.use_artifact(art)
    folder = art.download(root, include, progress=meter, link=link)
    files = [f for f in art.files() if not include or matches_include(f.path, include)]  # read by the download
    return os.path.join(folder, *files[0].path.split("/")) if len(files) == 1 else folder
