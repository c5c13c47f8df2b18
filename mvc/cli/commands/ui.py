"""mvc ui: a local, private web page of the store (registry, lineage, alias history, diffs)."""
import click

from .. import context


@click.command(short_help="Browse the store in a local web page (registry, lineage, diffs).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-open", is_flag=True, help="Print the URL but do not open a browser.")
@click.option("--write", is_flag=True, help="Allow changes from the page (setting and removing aliases).")
def command(port, no_open, write) -> None:
    """Serve a web page of this store on 127.0.0.1 and open it in the browser.

    The page lists projects and artifacts, a version's files, metadata and
    aliases, the alias history as a timeline, the registry, the lineage graph
    of any version or run, and the diff of two versions.  The printed URL
    carries a random token: requests without it (or the cookie the first
    visit sets) and requests for another host name are refused.  Read-only
    unless --write.  Stop it with Ctrl-C.  Needs the UI extra:
    pip install 'mvc-models[ui]'."""
    from mvc.ui import require
    require()
    c = context.get()
    api = c.api()                      # fails here, before serving, when there is no store
    from mvc.ui.server import serve
    serve(api.repo.path, c.project, port=port, write=write, open_browser=not no_open)
