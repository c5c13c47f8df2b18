"""mvc server: the resident server that lets `mvc` start in ~50 ms instead of ~200 ms."""
import click


@click.group(short_help="Show or stop the resident server that makes `mvc` start fast.")
def command() -> None:
    """The first `mvc` command starts a server in the background that has
    imported mvc once; later commands hand it their arguments, folder,
    environment and terminal, and it runs each in a fresh forked process.  It
    exits by itself after 10 minutes without a command (MVC_SERVER_IDLE
    seconds), and a new version of mvc gets a new server.  MVC_SERVER=0 runs
    every command in its own process instead.  docs/cli.md, "The server"."""


@command.command()
def status() -> None:
    """Print the server for this installation of mvc, and whether it runs."""
    from ..client import beside, socket_path
    path = socket_path()
    if path is None:
        click.echo("no server: this platform or the socket folder does not allow one; commands run in process")
        return
    pid = _pid(beside(path, ".pid"))
    state = f"running (pid {pid})" if pid else "not running (the next `mvc` command starts it)"
    click.echo(f"{state}\nsocket: {path}")


@command.command()
@click.option("--all", "all_", is_flag=True, help="Stop the servers of every installation and version of mvc.")
def stop(all_: bool) -> None:
    """Stop the server (it finishes no command: commands run in their own processes)."""
    import glob
    import os
    import signal

    from ..client import beside, server_dir, socket_path
    base = server_dir()
    here = socket_path()
    files = glob.glob(os.path.join(base, "*.pid")) if all_ and base else (
        [beside(here, ".pid")] if here else [])
    stopped = 0
    for pidfile in files:
        pid = _pid(pidfile)
        if pid:
            os.kill(pid, signal.SIGTERM)
            stopped += 1
    click.echo(f"stopped {stopped} server" + ("" if stopped == 1 else "s"))


def _pid(pidfile: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive and is an mvc server."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"mvc.cli.server" not in f.read():
                return None
    except (OSError, ValueError):
        return None
    return pid
