"""mvc runs ls|show: the runs of a project."""
import click

from .. import context, output, views


@click.group(short_help="List runs, or show one.")
def command() -> None:
    """Runs record config, summary, environment, and the versions they used and logged."""


@command.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def ls(as_json) -> None:
    """Every run of the project, oldest first."""
    api = context.get().api()
    rows = [views.run_row(r) for r in api.runs()]
    if as_json:
        output.emit_json(rows)
    else:
        output.table([[r["id"], r["name"], r["job_type"] or "-", r["state"], output.short_time(r["started_at"]),
                       len(r["inputs"]), len(r["outputs"])] for r in rows],
                     ["id", "name", "job type", "state", "started", "used", "logged"], empty="(no runs)")
    output.report_unreadable(api, "run", api.project)


@command.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def show(run_id, as_json) -> None:
    """One run: state, times, config, summary, environment, inputs and outputs."""
    d = views.run_detail(context.get().api().run(run_id[4:] if run_id.startswith("run:") else run_id))
    if as_json:
        output.emit_json(d)
        return
    echo = output.echo
    echo(f"run {d['name']} ({d['id']}) in project {d['project']}: {d['state']}")
    echo(f"  job type: {d['job_type'] or '-'}")
    echo(f"  started:  {output.short_time(d['started_at'])}   ended: {output.short_time(d['ended_at'])}")
    code = d["env"].get("code") or {}
    if code.get("commit"):
        echo(f"  code:     {code['commit'][:12]}" + (" (dirty)" if code.get("dirty") else ""))
    echo(f"  host:     {d['env'].get('host', '-')}   user: {d['env'].get('user', '-')}")
    for title in ("config", "summary"):
        if d[title]:
            echo(f"{title}:")
            for k, v in sorted(d[title].items()):
                echo(f"  {k}: {v}")
    for i in d["inputs"]:
        echo(f"  used    {i['address']}" + (f" (via {i['via']})" if i["via"] else ""))
    for o in d["outputs"]:
        echo(f"  logged  {o['address']}" + ("" if o["created"] else " (same content as before)"))
    if d["dir"]:
        echo(f"  run log: {d['dir']}/")
