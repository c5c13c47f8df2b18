"""mvc webhook add|ls|rm|log|retry: signed HTTP POSTs on store events."""
import click

from .. import context, output


@click.group(short_help="POST store events (log, link, alias) to URLs, signed.")
def command() -> None:
    """Webhooks get one JSON POST per event, signed with X-Mvc-Signature:
    sha256=<HMAC-SHA256 of the body> under a secret read from an environment
    variable at delivery (never stored). Failed deliveries are retried by later
    commands with backoff, or now by `mvc webhook retry`."""


@command.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True, metavar="KIND[:REGEX],...",
              help="log, link and/or alias, each optionally :REGEX (alias name, registered model or artifact "
                   "name, matched in full); comma-separated or repeated.")
@click.option("--secret-env", metavar="VAR", help="Environment variable holding the signing secret.")
def add(url, events, secret_env) -> None:
    """Send the events chosen with --event to URL."""
    hook = context.get().api().add_webhook(url, list(events), secret_env)
    output.echo(f"added webhook {hook['id']} -> {hook['url']} ({_events(hook)})")
    if not secret_env:
        click.echo("mvc: note: without --secret-env the requests are not signed", err=True)


@command.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def ls(as_json) -> None:
    """The webhooks of this store."""
    hooks = context.get().api().webhooks()
    if as_json:
        output.emit_json(hooks)
        return
    output.table([[h["id"], h["url"], _events(h), h.get("secret_env") or "(unsigned)"] for h in hooks],
                 ["id", "url", "events", "secret"], empty="(no webhooks)")


@command.command("rm")
@click.argument("key", metavar="ID|URL")
def rm(key) -> None:
    """Remove a webhook (by id or URL)."""
    hook = context.get().api().remove_webhook(key)
    output.echo(f"removed webhook {hook['id']} -> {hook['url']}")


@command.command("log")
@click.option("-n", "limit", type=int, default=50, show_default=True, help="How many attempts (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def log(limit, as_json) -> None:
    """Delivery attempts, newest first: when, webhook, event, address, state, HTTP status."""
    rows = [dict(r, when=output.iso_utc(r.get("when"))) for r in context.get().api().webhook_log(limit)]
    if as_json:
        output.emit_json(rows)
        return
    output.table([[output.short_time(r["when"]), r.get("webhook"), r.get("event"), r.get("address"),
                   r.get("attempt"), r.get("state"), r.get("status") or "-", r.get("error") or ""] for r in rows],
                 ["when", "webhook", "event", "address", "try", "state", "http", "error"], empty="(no deliveries)")


@command.command("retry")
def retry() -> None:
    """Deliver now every webhook event still pending or failed."""
    counts = context.get().api().run_pending_events(retry_failed=True)
    output.echo(f"delivered {counts.get('delivered', 0)}; still pending {counts.get('pending', 0)}; "
                f"failed {counts.get('failed', 0)} (see `mvc webhook log`)")


def _events(hook: dict) -> str:
    return ",".join(e["kind"] + (f":{e['match']}" if e.get("match") else "") for e in hook.get("events", []))
