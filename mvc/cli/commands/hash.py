"""mvc hash: the digests a log would record for a file or folder, without a store."""
import click

from .. import output


@click.command(short_help="Print the digests a log would record for a file or folder.")
@click.argument("path", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("-x", "--exclude", multiple=True, metavar="PATTERN",
              help="Leave out what matches PATTERN (gitignore syntax; repeatable), as `mvc log -x` does.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: path, digest (the artifact digest), size, "
              "files[] ({path, digest, size}).")
def command(path, exclude, as_json) -> None:
    """Hash PATH as `mvc log PATH` would, without a store: a file's digest and
    size; for a folder, each file's digest and size, then the artifact digest
    the folder would get (`mvc ls NAME` and `mvc show` print the same digests).
    Each byte is read once.  The same files are left out as by `mvc log`: .git and
    the like, a .mvcignore at the folder's root, and each --exclude PATTERN."""
    import os

    from mvc.api import hash_folder
    h = hash_folder(path, list(exclude))
    if as_json:
        output.emit_json({"path": path, "digest": h.digest, "size": h.size,
                          "files": [{"path": p, "digest": d, "size": n} for p, d, n in h.files]})
        return
    if not os.path.isdir(path):
        _, digest, size = h.files[0]
        output.echo(f"{digest}  {size}  {path}")
        return
    for p, d, n in h.files:
        output.echo(f"{d}  {n}  {p}")
    output.echo(f"artifact {h.digest}  {h.size}  {len(h.files)} file{'' if len(h.files) == 1 else 's'}")
