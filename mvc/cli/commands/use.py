"""mvc use: materialise a version locally (records a run, job type `cli`)."""
import click

from .. import context, output


@click.command(short_help="Download a version into a folder and print its path.")
@click.argument("address", required=False)
@click.option("-o", "--output", "root", metavar="DIR", type=click.Path(file_okay=False),
              help="Folder to put the files in (default: $MVC_ARTIFACT_DIR or ./artifacts, then NAME:vN).")
@click.option("--include", "-i", multiple=True, metavar="GLOB", help="Only files matching GLOB (repeatable).")
@click.option("--link", "link", type=click.Choice(["copy", "hardlink", "reflink", "auto"]),
              default=None, help="How files get their bytes (default: the setting use.link, else copy); "
              "hardlinked files are read-only (they are the store's bytes).")
@click.option("--no-verify", "no_verify", is_flag=True,
              help="Take a reference (file:// source) as it is now even if it changed since it was logged.")
@click.option("--save", is_flag=True, help="Pin the version in mvc.lock (top of the git work tree): name, "
              "version, digest, folder.")
@click.option("--locked", is_flag=True, help="Restore every version pinned in mvc.lock (or the pin ADDRESS "
              "names) into its folder, exactly; fails if the store's version has another digest.")
def command(address, root, include, link, no_verify, save, locked) -> None:
    """Materialise the version ADDRESS names (verified against its digests) and
    print the path: the file when it holds exactly one, else the folder.
    ADDRESS: NAME[:vN|:ALIAS], NAME@DIGEST, or registry/MODEL[:vN|:ALIAS]."""
    c = context.get()
    if locked or save or address is None:
        from ._lock import check_use_options
        if check_use_options(c, address, root, include, save, locked):
            return
    include = list(include) or None
    if link is None:  # the setting use.link (MVC_LINK), else copy: resolved here so the notes below know it
        from mvc.api.settings import get_setting
        link = get_setting("use.link", c.dir)[0] or "copy"
    # Resolved once, here: a missing store or address fails before a run is recorded, and the
    # run uses this very version even if `latest` moves meanwhile.
    art = c.api().artifact(address)
    from mvc.api import fetch
    fetch.check_selection(art, include)  # an --include that selects nothing records no run either
    from mvc.api.artifact import default_root
    default_root(art.name, art.version, root)  # nor does an empty -o
    from mvc.errors import ReadOnlyError
    try:
        run = c.start_run()
    except ReadOnlyError as e:  # a reader needs no run record: use it unrecorded, and say so
        click.echo(f"mvc: note: not recorded as a run: {e.message}", err=True)
        with output.Progress("fetching", None, c.quiet) as meter:
            path = _download(art, root, include, meter, link, not no_verify)
        _done(c, address, art, root, path, save)
        return
    built = c.api().file_cache()["built"] if link == "hardlink" else 0
    with run:
        with output.Progress("fetching", None, c.quiet) as meter:  # the download tells it the total
            if "model" in (art.type or ""):
                path = run.use_model(art, root=root, include=include, verify=not no_verify, progress=meter, link=link)
            else:
                path = _use_any(run, art, root, include, meter, link, not no_verify)
    if link == "hardlink" and not c.quiet:
        _cache_cost(c.api().file_cache(), built)
    _done(c, address, art, root, path, save)


def _cache_cost(cache: dict, built_before: int) -> None:
    """A hardlinked use's first use of a file builds it whole in the store's cache: say what that
    cost (nothing when every file was there already, or is one chunk linked as it is)."""
    added = cache["built"] - built_before
    if added <= 0:
        return
    output.echo(f"mvc: note: --link hardlink added {output.human_size(added)} of whole files to the store's "
                f"file cache (now {output.human_size(cache['bytes'])}, limit {output.human_size(cache['limit'])}); "
                "your hardlinked files share those bytes, so they cost no more disk while they exist; "
                "`mvc gc` trims the cache to its limit (cache.max_size, MVC_CACHE_MAX)", err=True)


def _done(c, address, art, root, path, save) -> None:
    """Print the path; with --save, pin the version in mvc.lock (`mvc/cli/commands/_lock.py`)."""
    output.echo(path)
    if save:
        from ._lock import save_pin
        save_pin(c, address, art, root)


def _download(art, root, include, meter, link, verify=True) -> str:
    """A use without a run: the version's files (the file when it holds exactly one, as use_model)."""
    from mvc.api import fetch
    return fetch.download(art, root, include, verify, meter, link)


def _use_any(run, art, root, include, meter, link=None, verify=True) -> str:
    """Non-model types: use_artifact + download (the general form); the file if exactly one was fetched."""
    from mvc.api import fetch
    return fetch.download(run.use_artifact(art), root, include, verify, meter, link)
