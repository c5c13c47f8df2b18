"""mvc diff: what changed between two versions, down to tensors and JSON keys."""
import click

from .. import context, output


@click.command(short_help="Show what changed between two versions: files, tensors, JSON keys.")
@click.argument("a")
@click.argument("b", required=False, metavar="B")  # one given: _need_two says why two
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema: docs/cli.md, \"mvc diff\").")
@click.option("--stat", "stat", is_flag=True, help="One line per changed file and a summary line, as git diff --stat.")
def command(a, b, as_json, stat) -> None:
    """Compare version A (old) with version B (new): any two addresses, of one
    artifact or two (NAME:v1, NAME:best, registry/M:production, NAME@DIGEST).
    Files added, removed, renamed and changed; inside safetensors and GGUF files
    the tensors added, removed and changed (with max |delta|, relative L2 and
    cosine); inside JSON files the keys.  Tensors whose chunks are the same in
    both versions are known unchanged without being read."""
    if b is None:
        _need_two(a)
    c = context.get()
    from mvc.errors import NotFoundError, UsageError
    try:
        with output.Progress("comparing", None, c.quiet) as meter:
            d = c.api().diff(a, b, progress=meter)
    except (NotFoundError, UsageError) as err:
        _say_if_on_disk(c.api(), err, a, b)
        raise
    if as_json:
        output.emit_json(d)
    elif stat:
        _print_stat(d)
    else:
        _print(d)


def _say_if_on_disk(api, err, a: str, b: str) -> None:
    """An address that names nothing but is a path here (``mvc diff ./model ./model-ft``, as
    ``git diff --no-index``): the hint says diff compares stored versions and how to get them."""
    import os

    from mvc.errors import MvcError

    def names_nothing(x: str) -> bool:
        try:
            api.artifact(x)
        except MvcError:
            return True
        return False
    path = next((x for x in (a, b) if os.path.exists(x) and names_nothing(x)), None)
    if path is not None:
        name = os.path.basename(os.path.normpath(os.path.abspath(path)))
        err.hint = (f"{path!r} is a {'folder' if os.path.isdir(path) else 'file'} here: mvc diff compares stored "
                    f"versions; log it (`mvc log {path}`), then diff its versions (`mvc diff {name}:v0 {name}:v1`)")


def _need_two(a: str) -> None:
    """One argument: say that a diff takes two, and how git's ``A..B`` is written here (a name may
    hold '..', so the range is not guessed at)."""
    from mvc.errors import UsageError
    import re
    old, dots, new = a.partition("..")
    if ":" in old and re.fullmatch(r"v\d+", new):   # NAME:v0..v1
        new = old.rpartition(":")[0] + ":" + new
    example = f"mvc diff {old} {new}" if dots and old and new else "mvc diff NAME:v0 NAME:v1"
    raise UsageError(f"mvc diff needs two addresses, old then new; got only {a!r}",
                     f"write them apart: `{example}`")


def _print(d: dict) -> None:
    echo = output.echo
    echo(f"--- {_side(d['a'])}")
    echo(f"+++ {_side(d['b'])}")
    if not d["files"]:
        echo("no changes" + (" (same content digest)" if d["identical"] else ""))
        return
    output.table([[f["status"], _path(f), output.human_size(f["old_size"]), output.human_size(f["new_size"]),
                   _detail(f)] for f in d["files"]], ["status", "path", "old size", "new size", "detail"])
    for f in d["files"]:
        if f["tensors"] and (f["tensors"]["added"] or f["tensors"]["removed"] or f["tensors"]["changed"]):
            echo()
            echo(f"{f['path']}: tensors")
            _print_tensors(f["tensors"])
        for key, title in (("metadata", "header metadata"), ("json", "keys")):
            if f[key]:
                echo()
                echo(f"{f['path']}: {title}")
                _print_keys(f[key])
        if f["note"]:
            echo(f"{f['path']}: {f['note']}")
    echo()
    echo(_summary_line(d["summary"]))


def _side(s: dict) -> str:
    via = f" via {s['via_link']}" if s.get("via_link") else ""
    files = output.counted(s["files"], "file")
    return f"{s['address']}{via}  ({output.human_size(s['size'])} in {files}, {output.short_digest(s['digest'])})"


def _path(f: dict) -> str:
    return f"{f['old_path']} -> {f['path']}" if f["status"] == "renamed" else f["path"]


def _detail(f: dict) -> str:
    from mvc.api.diff import change_phrase
    phrase = change_phrase(f)
    if phrase:
        return phrase + (" (first ones listed)" if f["json"] and f["json"]["truncated"] else "")
    if f["shared_bytes"] is not None and f["new_size"]:
        return f"{100 * f['shared_bytes'] / f['new_size']:.0f}% of chunks shared"
    return ""


def _print_tensors(t: dict) -> None:
    rows = [[x["name"], x["status"], _pair(x["old_dtype"], x["new_dtype"]), _pair(_shape(x["old_shape"]),
             _shape(x["new_shape"])), _num(x["bytes_changed"], "d"), _num(x["max_abs_delta"], ".4g"),
             _num(x["rel_l2"], ".4g"), _num(x["cosine"], ".10g")]
            for x in t["changed"] + t["added"] + t["removed"]]
    output.table(rows, ["tensor", "change", "dtype", "shape", "bytes changed", "max abs diff", "rel L2", "cosine"])


def _print_keys(j: dict) -> None:
    rows = [[c["path"], "changed", _value(c["old"], c["elided"]), _value(c["new"], c["elided"])] for c in j["changed"]]
    rows += [[c["path"], "added", "-", _value(c["value"], c["elided"])] for c in j["added"]]
    rows += [[c["path"], "removed", _value(c["value"], c["elided"]), "-"] for c in j["removed"]]
    output.table(rows, ["key", "change", "old", "new"])
    if j["truncated"]:
        output.echo("(more changes not listed)")


def _pair(old, new) -> str:
    if old is None or new is None or old == new:
        return old if new is None else new
    return f"{old} -> {new}"


def _shape(s) -> str | None:
    return None if s is None else "[" + ", ".join(str(n) for n in s) + "]"


def _num(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _value(v, elided: bool) -> str:
    import json
    if elided and v is None:
        return "(large value)"
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _print_stat(d: dict) -> None:
    """As git diff --stat: a line per changed file and a summary line; nothing when nothing changed."""
    if not d["files"]:
        return
    rows = [[_path(f), _stat_detail(f)] for f in d["files"]]
    width = max((len(output.safe(r[0])) for r in rows), default=0)
    for path, detail in rows:
        output.echo(f" {output.safe(path).ljust(width)} | {detail}")
    output.echo(" " + _summary_line(d["summary"]))


def _stat_detail(f: dict) -> str:
    if f["status"] in ("added", "removed"):
        return f"{f['status']} ({output.human_size(f['new_size'] if f['status'] == 'added' else f['old_size'])})"
    if f["status"] == "renamed":
        return "renamed"
    return _detail(f) or f"{output.human_size(f['old_size'])} -> {output.human_size(f['new_size'])}"


def _summary_line(s: dict) -> str:
    n = s["files_added"] + s["files_removed"] + s["files_changed"] + s["files_renamed"]
    parts = [f"{n} file{'' if n == 1 else 's'} changed"]
    parts += [f"{s['files_' + k]} {k}" for k in ("added", "removed", "renamed") if s["files_" + k]]
    t = [f"{s['tensors_' + k]} {k}" for k in ("changed", "added", "removed") if s["tensors_" + k]]
    if t:
        parts.append("tensors: " + ", ".join(t))
    if s["json_keys_changed"]:
        parts.append(output.counted(s["json_keys_changed"], "JSON key") + " changed")
    if s.get("metadata_keys_changed"):
        parts.append(output.counted(s["metadata_keys_changed"], "metadata key") + " changed")
    return ", ".join(parts)
