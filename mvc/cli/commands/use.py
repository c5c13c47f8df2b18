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
    art = c.api().artifact(address)  # a missing store or address fails here, before a run is recorded
    with c.start_run() as run:
        with output.Progress("fetching", _total(art, include), c.quiet) as meter:
            if "model" in (art.type or ""):
                path = run.use_model(address, root=root, include=include, progress=meter, link=link)
            else:
                path = _use_any(run, address, root, include, meter, link)
    click.echo(path)


def _use_any(run, address, root, include, meter, link="copy") -> str:
    """Non-model types: use_artifact + download (the general form); the file if exactly one was fetched."""
    import fnmatch
    import os
    art = run.use_artifact(address)
    folder = art.download(root, include, progress=meter, link=link)
    files = [f.path for f in art.files() if not include or any(fnmatch.fnmatch(f.path, g) for g in include)]
    return os.path.join(folder, *files[0].split("/")) if len(files) == 1 else folder


def _total(art, include) -> int:
    if not include:
        return art.size
    import fnmatch
    return sum(f.size for f in art.files() if any(fnmatch.fnmatch(f.path, g) for g in include))
