"""The `mvc` console script: answers `mvc --help`, `mvc -h` and `mvc --version` from text kept
here, and runs the plain forms of `mvc ls` itself, without importing click (~35 ms of every
start), and hands everything else to mvc.cli.main.

The help text is click's own rendering of the root group at its widest (78 columns: click
wraps at min(terminal, 80) - 2); a narrower terminal, or any other argument, goes through click.
tests/test_startup.py compares the two, so a change to a command's summary or a global option
fails there with the text to paste here."""
from __future__ import annotations

import os
import sys

VERSION_LINE = "mvc, version {version}\n"  # click's version_option, prog_name="mvc"
WIDE_ENOUGH = 80  # click's max_width: at or above it the text below is exactly click's

ROOT_HELP = """\
Usage: mvc [OPTIONS] COMMAND [ARGS]...

  mvc: version control for machine-learning models.

  Log model files as numbered versions, move aliases, pull versions back out,
  link them into a registry, and follow lineage between runs and versions.

  -q, -C/--dir and --project work before or after the command name.

Options:
  -q, --quiet    Silence progress and run summaries.
  -C, --dir DIR  Store location (a .mvc folder or the folder holding one);
                 like MVC_DIR.
  --project P    Project to work in (default: MVC_PROJECT, else the project
                 folder's name).
  --json         Print JSON: the same as the command's own --json, for
                 commands that have one.
  --version      Show the version and exit.
  -h, --help     Show this message and exit.

Commands:
  alias       Set, remove, or show the history of aliases.
  clone       Make a new store from a remote.
  completion  Print the shell completion script for bash, zsh or fish.
  config      Get, set and list settings (TOML, store and user level).
  delete      Soft-delete a version (bring it back with `mvc restore`).
  demo        Walk through log -> use -> link -> lineage on a small sample
              model.
  diff        Show what changed between two versions: files, tensors, JSON
              keys.
  du          Show logical and stored bytes and the dedup ratio.
  fetch       Fetch a remote's metadata (default: origin); change nothing
              here.
  fsck        Check the store: chunk hashes, pointers, git metadata.
  gc          Remove chunks and trash no version needs any more.
  hash        Print the digests a log would record for a file or folder.
  hooks       Install mvc's git hooks; deliver pending store events.
  init        Create a store (in the project root, or -C DIR).
  lineage     Show the lineage of a version or run (text, json, dot, mermaid).
  link        Link a path (logged first) or an existing version into a
              registered model.
  lock        Check the model versions pinned in mvc.lock.
  log         Log a file or folder as a new version of an artifact.
  ls          List artifacts, or the versions of one, with aliases and sizes.
  migrate     Convert a store of an older format (format 1) in place.
  pull        Fetch a remote (default: origin) and fold it in.
  push        Send what a remote lacks (default: origin).
  registry    List, show, unlink and alias registered models.
  remote      Add, list and remove remotes (metadata URL + storage URL).
  restore     Restore a soft-deleted version.
  runs        List runs, or show one.
  show        Show one version: files, metadata, aliases, lineage, links.
  status      Show the store: location, format, counts, chunk bytes.
  ui          Browse the store in a local web page (registry, lineage, diffs).
  unlock      Remove locks and leases left behind by killed writers.
  use         Download a version into a folder and print its path.
  verify      Re-read every byte of one version against its digests.
  webhook     POST store events (log, link, alias) to URLs, signed.
"""


def columns() -> int:
    """What click's formatter sees: shutil.get_terminal_size() without importing shutil."""
    try:
        cols = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        cols = 0
    if cols > 0:
        return cols
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or WIDE_ENOUGH
    except (AttributeError, ValueError, OSError):
        return WIDE_ENOUGH


def answer(argv: list[str]) -> str | None:
    """The text for an argv this module answers itself, else None."""
    if argv in (["--help"], ["-h"]) and ROOT_HELP and columns() >= WIDE_ENOUGH:
        return ROOT_HELP
    if argv == ["--version"]:
        from mvc import __version__
        return VERSION_LINE.format(version=__version__)
    return None


# ---- `mvc ls` without click ----
# The forms read here, exactly as click reads them; any other token, an option given twice, a
# value that looks like an option, or click's completion request goes to click, which then
# parses, reports or refuses as it always does.  tests/test_quick_ls.py runs each form both
# ways and compares stdout, stderr and the exit status.
GLOBAL_VALUES = {"-C": "dir", "--dir": "dir", "--project": "project"}
GLOBAL_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--json": "json"}
LS_VALUES = {"--type": "type"}


def quick_ls(argv: list[str]) -> dict | None:
    """The options of a plain `mvc ls` command line (dir, project, quiet, json, name, type),
    or None when it is not one this module reads."""
    if "_MVC_COMPLETE" in os.environ or "ls" not in argv:
        return None
    got: dict = {}
    command = False
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        values = {**GLOBAL_VALUES, **(LS_VALUES if command else {})}
        key, eq, value = token.partition("=")
        if token in values or (eq and key.startswith("--") and key in values):  # -C DIR, --dir DIR, --dir=DIR
            if not eq:
                if i == len(argv):
                    return None
                key, value, i = token, argv[i], i + 1
            name = values[key]
            if name in got or not value or value.startswith("-"):
                return None
            got[name] = value
        elif token in GLOBAL_FLAGS:
            got[GLOBAL_FLAGS[token]] = True
        elif token.startswith("-"):
            return None
        elif not command:
            if token != "ls":
                return None
            command = True
        elif "name" in got:
            return None
        else:
            got["name"] = token
    if not command or ("dir" in got and os.path.isfile(got["dir"])):  # click.Path(file_okay=False) says why
        return None
    return got


def run_ls(opts: dict) -> int:
    """`mvc ls` as the click command runs it: the store from -C/--dir or MVC_DIR, the project
    from --project or MVC_PROJECT, errors through the CLI's one boundary."""
    from .boundary import exit_code
    try:
        from mvc.api import Api
        from . import listing
        project = opts.get("project")
        if project:
            from mvc.names import check_project
            check_project(project)
        store = os.path.abspath(opts["dir"]) if "dir" in opts else os.environ.get("MVC_DIR") or None
        api = Api(store, project or os.environ.get("MVC_PROJECT") or None)
        if "name" in opts:
            listing.versions(api, opts["name"], opts.get("json", False), type=opts.get("type"))
        else:
            listing.artifacts(api, opts.get("type"), opts.get("json", False))
    except KeyboardInterrupt:  # as the click group ends an interrupted command
        interrupted()
        return INTERRUPTED
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise
        return code
    return 0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    text = answer(args)
    if text is None:
        opts = quick_ls(args)
        if opts is None:
            from .main import main as click_main
            click_main(argv)
            return
        try:
            sys.exit(run_ls(opts))
        except BrokenPipeError:
            exit_on_broken_pipe()
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `mvc --help | head`
        exit_on_broken_pipe()
    sys.exit(0)


INTERRUPTED = 130  # git's (and the shell's) status for a command Ctrl-C stopped: 128 + SIGINT


def interrupted() -> None:
    """Say so on stderr, in click's words."""
    try:
        sys.stderr.write("\nAborted!\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def exit_on_broken_pipe() -> None:
    """A reader that stopped reading (`mvc ls | head`): stop quietly with git's status, 141,
    stdout pointed at /dev/null so the interpreter's last flush cannot complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)
