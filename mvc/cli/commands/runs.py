"""mvc runs ls|show: the runs of a project."""
import click

from .. import context, output, views
from ..params import SINCE


@click.group(short_help="List runs, or show one.")
def command() -> None:
    """Runs record config, summary, environment, and the versions they used and logged."""


STATES = ("running", "finished", "failed", "killed", "crashed")


@command.command("ls")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only runs in this state (repeatable).")
@click.option("--job-type", "job_types", multiple=True, metavar="T", help="Only runs of this job type (repeatable).")
@click.option("--since", type=SINCE, metavar="WHEN",
              help="Only runs started since WHEN: a duration ago (90s, 30m, 1.5h, 2d, 2w) or an ISO date.")
@click.option("--until", type=SINCE, metavar="WHEN", help="Only runs started before WHEN (same forms as --since).")
@click.option("--all", "all_", is_flag=True,
              help="Also list the runs `mvc log`, `use` and `link` record for themselves (job type `cli`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def ls(states, job_types, since, until, all_, as_json) -> None:
    """The runs of the project, oldest first.  The CLI's own bookkeeping runs
    (job type `cli`) are left out unless --all or --job-type cli asks for them."""
    api = context.get().api()
    note = api.check_project_listed()
    if note:
        output.echo(f"mvc: note: {note}", err=True)
    every = api.runs()
    recs = [r for r in every if _wanted(r, states, job_types, since, until, all_)]
    rows = [views.run_row(r) for r in recs]
    hidden = 0 if all_ or job_types else sum(r.job_type == "cli" for r in every)
    if as_json:
        output.emit_json(rows)
    else:
        output.table([[r["id"], r["name"], r["job_type"] or "-", r["state"], output.short_time(r["started_at"]),
                       len(r["inputs"]), len(r["outputs"])] for r in rows],
                     ["id", "name", "job type", "state", "started", "used", "logged"],
                     empty=f"(no runs; {hidden} of `mvc log`, `use`, `link` hidden: --all lists them)" if hidden
                     else "(no runs)")
    output.report_unreadable(api, "run", api.project)


def _wanted(rec, states, job_types, since, until, all_) -> bool:
    """Does run ``rec`` pass the filters (times are epoch seconds from params.SINCE)?"""
    started = rec.record.get("started_at") or 0
    if job_types:
        if rec.job_type not in job_types:
            return False
    elif not all_ and rec.job_type == "cli":
        return False
    return ((not states or rec.state in states) and (since is None or started >= since)
            and (until is None or started < until))


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
