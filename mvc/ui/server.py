"""Run the app: bind 127.0.0.1 on a free port, print the URL with its token, serve until
Ctrl-C.  The socket is bound here, before uvicorn starts, so the printed port is the one
being served and no other process can take it between a probe and the bind."""
from __future__ import annotations

import secrets
import socket
import sys

from ..errors import MvcError

HOST = "127.0.0.1"


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # a restart on the same --port: not
    try:                                                          # refused for the last run's TIME_WAIT
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise MvcError(f"mvc ui cannot listen on {HOST}:{port}: {exc.strerror or exc}",
                       "pick another port with --port N, or leave it out for any free one") from None
    return sock


def serve(store: str, project: str | None, port: int = 0, write: bool = False, open_browser: bool = True,
          out=None) -> None:
    """Serve the store's pages until interrupted."""
    import uvicorn

    from .app import Settings, create_app
    out = out or sys.stdout
    sock = bind(port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    app = create_app(Settings(store, project, token, port, write))
    url = f"http://{HOST}:{port}/?token={token}"
    try:
        announce(store, url, write, out)
        if open_browser:
            open_page(url, out)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False,
                                server_header=False, ws="none", interface="asgi3", timeout_graceful_shutdown=2)
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:   # uvicorn re-raises the Ctrl-C it handled (or it came before uvicorn's
        pass                    # handler was in place): stopping is the normal end
    finally:
        sock.close()
    print("mvc ui: stopped", file=out, flush=True)


def announce(store: str, url: str, write: bool, out) -> None:
    mode = "read-write (--write): aliases can be changed" if write else "read-only"
    print(f"mvc ui: serving {store} ({mode})", file=out)
    print(f"mvc ui: open {url}", file=out)
    print("mvc ui: press Ctrl-C to stop", file=out, flush=True)


def open_page(url: str, out) -> None:
    """Open the page in the user's browser, but only where there is a display: without one,
    Python's webbrowser falls back to a text browser that would take over this terminal."""
    import os
    import webbrowser
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("mvc ui: no display here: open the URL above in a browser", file=out, flush=True)
        return
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print("mvc ui: could not start a browser: open the URL above yourself", file=out, flush=True)
