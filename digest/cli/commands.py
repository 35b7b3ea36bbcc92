"""The `digest` group and its commands other than sources and fetch (those are in `sources.py`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from digest.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_INPUT,
    config_option,
    handle_errors,
    quiet_prefect,
    settings_from,
    use_server,
    with_folders,
)
from digest.errors import ConfigError, InputError, Interrupted
from digest.settings import check_folders
from digest.state import run_lock


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="digest")
def main() -> None:
    """Turn a folder of news articles into one daily briefing.

    \b
    Quick start:
      digest run                      # digest ./inbox into ./outbox once, now
      digest clean page.html --explain  # see what the cleaner keeps and why
      digest status                   # what ran, what waits, what failed

    Settings come from ./digest.toml and DIGEST_* environment variables (e.g. DIGEST_SMTP_HOST).
    """
    quiet_prefect()
    stop_on_sigterm()


def stop_on_sigterm() -> None:
    """Make SIGTERM (timeout, systemd, Docker) unwind like Ctrl-C, so child processes (the temporary
    Prefect server) are stopped and what was done is recorded."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, stop)


@main.command()
@with_folders
@click.option("--dry-run", is_flag=True, help="Build everything, send nothing, mark nothing done.")
@click.option("--fetch", is_flag=True, help="First fetch the subscribed sources into the inbox (digest fetch).")
@handle_errors
def run(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None, dry_run: bool,
        fetch: bool = False) -> None:
    """Run the daily-digest flow once, now, on the inbox's new articles (the manual trigger).

    Needs no Prefect server: the flow runs in-process against PREFECT_API_URL when set, else the
    `digest server` of the same state folder when it runs, else a temporary server that stops with the run.

    \b
    Examples:
      digest run
      digest run --inbox ~/news/inbox --outbox ~/news/outbox
      DIGEST_SUMMARIZER=textrank digest run --dry-run
      digest run --fetch              # fetch the sources first, then digest
    """
    settings = settings_from(config, inbox, outbox, state)
    if fetch and settings.sources:
        settings.inbox.mkdir(parents=True, exist_ok=True)
    check_folders(settings)
    with run_lock(settings.state):  # another run holds it: say so now, not after Prefect has started
        pass
    from digest import idle

    if not (fetch and settings.sources) and idle.answer(settings, click.echo):
        return  # nothing to do: answered without starting Prefect
    from flows import api

    # first, so a temporary server starts up while this process imports Prefect and the stages
    with api.for_run(settings) as prefect_api:
        from digest.summarise import summarizer_for

        summarizer_for(settings.summarizer)  # settings errors before the flow starts
        from flows.daily_digest import daily_digest_with

        prefect_api.ready()
        result = daily_digest_with(settings, dry_run=dry_run, fetch=fetch)
    if result.get("path"):
        click.echo(f"digest: {result['path']}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Write DIR/<stem>.txt per input instead of printing.")
@click.option("--explain", is_flag=True, help="List every input line or block: kept or dropped, role, reason.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
@handle_errors
def clean(files: tuple[Path, ...], out: Path | None, explain: bool, fmt: str, config: Path | None) -> None:
    """Clean article files the way the pipeline does, and show what was removed.

    Reads .txt, .md, .html, .htm, .html.gz and .eml. Boilerplate that recurs across the given
    files is learned as the pipeline learns it across an inbox.

    \b
    Examples:
      digest clean inbox/story.html
      digest clean page.txt --explain
      digest clean inbox/* --out cleaned/
      digest clean page.html.gz --format json
    """
    from digest import clean as cleaning
    from digest import ingest
    from digest.clean import explain as explaining

    settings = settings_from(config)
    raws, failures = [], 0
    for path in files:
        try:
            raws.append(ingest.load_file(path, settings.max_file_bytes))
        except InputError as exc:
            click.echo(f"digest: skipped {exc}", err=True)
            failures += 1
    learned = cleaning.learn_boilerplate(raws) if settings.learn_boilerplate and len(raws) > 2 else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for raw in raws:
        try:
            article = cleaning.clean_article(raw, learned)
        except InputError as exc:
            click.echo(f"digest: skipped {exc}", err=True)
            failures += 1
            continue
        if fmt == "json":
            body = json.dumps(explaining.decisions_json(article), ensure_ascii=False, indent=2) + "\n"
        elif explain:
            body = explaining.format_decisions(article) + "\n"
        else:
            body = explaining.format_article(article) + "\n"
        if out:
            target = out / f"{stem(raw.path)}.{'json' if fmt == 'json' else 'txt'}"
            target.write_text(body, encoding="utf-8")
            click.echo(f"{raw.path} -> {target} (kept {len(article.paragraphs)}, dropped {article.dropped})")
        else:
            if len(raws) > 1:
                click.echo(f"==> {raw.path} <==")
            click.echo(body, nl=False)
    if failures:
        sys.exit(EXIT_INPUT)


@main.command()
@config_option
@click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="State folder (default ./.digest).")
@click.option("--port", type=int, help="Port on 127.0.0.1 (default 4200, setting server_port).")
@click.option("--no-ui", is_flag=True, help="Serve the API only, without Prefect's dashboard.")
@handle_errors
def server(config: Path | None, state: Path | None, port: int | None, no_ui: bool) -> None:
    """Start the embedded Prefect server on 127.0.0.1 with its dashboard, its database under the state folder.

    Schedules need a real server; leave this running, then `digest scheduler` in another terminal. Open
    the dashboard in a browser to watch runs, their log lines and each run's report.

    \b
    Examples:
      digest server                  # dashboard on http://127.0.0.1:4200
      digest server --port 4300      # then: export PREFECT_API_URL=http://127.0.0.1:4300/api
      digest server --no-ui          # the API only
    """
    import subprocess

    from flows import api, deploy

    settings = settings_from(config, state=state, server_port=port)
    address = f"http://127.0.0.1:{settings.server_port}"
    where = f"API on {address}/api" if no_ui else f"dashboard on {address}, API on {address}/api"
    click.echo(f"digest: Prefect server: {where} (database in {settings.state / 'prefect'}); Ctrl-C stops it")
    import signal

    child = subprocess.Popen(deploy.server_command(settings), env=deploy.server_environment(settings, ui=not no_ui))
    # a service manager stops us with SIGTERM: stop the server too rather than orphan it
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    # `digest run` with the same state folder uses this server rather than starting one of its own
    announced = api.announce(settings, f"{address}/api")
    try:
        code = child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the server as well (same process group)
        code = child.wait()
    finally:
        announced.unlink(missing_ok=True)
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code)


@main.command()
@with_folders
@handle_errors
def scheduler(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None) -> None:
    """Register the deployment daily-digest/daily and run its schedule in this process until Ctrl-C.

    Needs `digest server` (or PREFECT_API_URL). The cron schedule (setting `schedule`, default
    "0 7 * * *") runs in the IANA time zone of the setting `timezone` (default the machine's), so a
    DST change does not move the hour. (`digest serve` is the old name of this command.)

    \b
    Examples:
      digest scheduler
      DIGEST_SCHEDULE="30 6 * * 1-5" DIGEST_TIMEZONE=Europe/Berlin digest scheduler
    """
    from flows import deploy

    settings = settings_from(config, inbox, outbox, state)
    check_folders(settings)
    url = use_server(settings)
    deploy.require_server(url)
    click.echo(f"digest: running the schedule of {deploy.DEPLOYMENT} ({settings.schedule!r} in "
               f"{deploy.timezone_of(settings)}) via {url}; Ctrl-C stops it")
    try:
        deploy.serve(settings, config)
    except KeyboardInterrupt:
        pass


# the old name, kept working for scripts and unit files; hidden so `digest server` has no look-alike
main.add_command(
    click.Command("serve", callback=scheduler.callback, params=scheduler.params, help=scheduler.help, hidden=True)
)


@main.command()
@with_folders
@click.option("--pool", default="digest", show_default=True, help="Name of the process work pool.")
@click.option("--move", is_flag=True,
              help="Move the deployment onto the pool even when `digest scheduler` serves it or another pool holds it.")
@handle_errors
def deploy(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None, pool: str,
           move: bool = False) -> None:
    """Register daily-digest/daily on a process work pool, for `prefect worker start` anywhere.

    Creates the work pool when missing and registers the deployment with the schedule (setting
    `schedule` in `timezone`). Then, on any machine with digest installed at the same path:

    \b
    Examples:
      digest deploy
      digest deploy --move                      # take over a deployment `digest scheduler` served
      prefect worker start --pool digest        # on each machine that should run digests
      digest trigger                            # a run now, picked up by a worker
    """
    from flows import deploy as deploying

    settings = settings_from(config, inbox, outbox, state)
    url = use_server(settings)
    created, deployment_id, moved_from = deploying.deploy(settings, config, pool, move=move)
    if moved_from is not None:
        click.echo(f"digest: moved {deploying.DEPLOYMENT} from {moved_from} onto work pool {pool!r}")
    click.echo(f"digest: work pool {pool!r} {'created' if created else 'exists'}; {deploying.DEPLOYMENT} "
               f"({settings.schedule!r} in {deploying.timezone_of(settings)}) registered via {url} as {deployment_id}")
    click.echo(f"digest: now run `prefect worker start --pool {pool}` (PREFECT_API_URL={url}) on each machine")


@main.command()
@config_option
@click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="State folder (default ./.digest).")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the run.")
@handle_errors
def trigger(config: Path | None, state: Path | None, timeout: float) -> None:
    """Start a run of daily-digest/daily now through the server, print its lines as it goes, end with the digest's path.

    \b
    Examples:
      digest trigger
      prefect deployment run daily-digest/daily      # the same, with Prefect's CLI
    """
    from flows import deploy

    settings = settings_from(config, state=state)
    deploy.require_server(use_server(settings))
    run, closing = deploy.trigger(timeout, click.echo)
    state_name = run.state.name if run.state else "unknown"
    click.echo(f"digest: run {run.name} finished: {state_name}")
    for line in closing:
        click.echo(line)
    if not run.state or not run.state.is_completed():
        sys.exit(EXIT_ERROR)


@main.command()
@with_folders
@handle_errors
def status(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None) -> None:
    """Show the next scheduled run, the last runs, pending and failed articles, unsent digests.

    \b
    Example:
      digest status
    """
    from digest.inbox import changed_conditions
    from digest.state import StateStore

    settings = settings_from(config, inbox, outbox, state)
    try:
        from flows import deploy

        use_server(settings)
        info = deploy.schedule_status()
        for sched in info["schedules"]:
            click.echo(f"schedule: {sched['cron']} ({sched['timezone']}){'' if sched['active'] else ' paused'}")
        click.echo(f"next run: {info['next_run'] or 'none scheduled'}")
    except Exception:  # no server, or no deployment yet: the local state still answers
        click.echo("next run: unknown (no Prefect server with daily-digest/daily; start `digest server` and `digest scheduler`)")
    if not settings.db_path.exists():
        click.echo("no runs yet (state folder empty)")
        return
    with StateStore(settings.db_path) as store:
        for r in store.runs(5):
            summ = r["summary"]
            counts = f"{summ.get('new', 0)} new, {summ.get('stories', 0)} stories, {summ.get('failed', 0)} failed"
            click.echo(f"run {r['started']}: {r['outcome']} ({counts}){' ' + summ['path'] if summ.get('path') else ''}")
        by_status = store.counts()
        click.echo("articles: " + ", ".join(f"{n} {k}" for k, n in sorted(by_status.items())) if by_status else "articles: none")
        for a in store.articles("pending"):
            click.echo(f"  pending: {a['path']}")
        for a in store.articles("failed"):
            changed = changed_conditions(a["conditions"], settings)
            again = f" (since changed: {', '.join(changed)}; the next run tries it again)" if changed else ""
            click.echo(f"  failed: {a['path']}: {a['reason']}{again}")
        for line in delivery_lines(store.digests(limit=20)):
            click.echo(line)


def delivery_lines(rows: list[Any]) -> list[str]:
    """One line per digest not delivered to everyone (each digest once), with each recipient's outcome."""
    from digest.delivery import ledger
    from digest.errors import StateError

    lines, seen = [], set()
    for d in rows:
        if d.message_id in seen or d.delivery in ("sent", "outbox-only", "lost"):  # lost: digested again
            continue
        seen.add(d.message_id)
        lines.append(f"digest {d.path}: {d.delivery}")
        try:
            record = ledger.read(Path(d.path))
        except StateError as exc:
            record, d_reason = None, str(exc)
        else:
            d_reason = d.delivery_reason
        if record is None or not record.recipients:
            lines.append(f"  {d_reason}" if d_reason else "  no delivery record")
            continue
        for address, r in record.recipients.items():
            lines.append(f"  {address}: {r.status}" + (f" ({r.reply})" if r.reply else ""))
    return lines


@main.command()
@with_folders
@handle_errors
def repair(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None) -> None:
    """Rebuild a lost or damaged state store from the outbox, sending and digesting nothing again.

    Each digest in the outbox keeps a delivery record beside it (digest.delivery): its articles,
    story memory and what was sent to whom. A damaged store is moved aside, never deleted.

    \b
    Example:
      digest repair --state ~/.digest --outbox ~/briefings
    """
    from digest import recovery

    settings = settings_from(config, inbox, outbox, state)
    recovery.repair(settings, lambda line: click.echo(f"digest: {line}"))


@main.command()
@with_folders
@handle_errors
def check(config: Path | None, inbox: Path | None, outbox: Path | None, state: Path | None) -> None:
    """Check the setup end to end without doing any work: one line per check, exit 1 on a failure.

    Settings (digest.toml, DIGEST_* variables), the folders, the schedule, the SMTP
    server (EHLO, STARTTLS and login, nothing sent) and the Prefect server.

    \b
    Examples:
      digest check
      DIGEST_SMTP_HOST=smtp.example.com digest check --config /etc/digest.toml
    """
    from digest import checks
    from flows import deploy

    try:
        settings = settings_from(config, inbox, outbox, state)
    except ConfigError as exc:
        click.echo(checks.Check("settings", "FAIL", str(exc)).line())
        sys.exit(EXIT_CONFIG)
    source = config or Path(os.environ.get("DIGEST_CONFIG", "digest.toml"))
    found = [checks.Check("settings", "ok", f"{source}" if source.is_file() else "defaults and DIGEST_* variables")]
    found += checks.secrets(source)
    found += checks.folders(settings)
    found.append(checks.schedule(settings, deploy.timezone_of(settings)))

    found.append(checks.smtp(settings))
    url = deploy.api_url(settings)
    problem = deploy.server_problem(url)
    if problem is None:
        found.append(checks.Check("prefect", "ok", f"server at {url} is healthy"))
    elif "PREFECT_API_URL" in os.environ:
        found.append(checks.Check("prefect", "FAIL", f"{problem}; start it or fix PREFECT_API_URL"))
    else:
        found.append(checks.Check("prefect", "skip", f"{problem}: `digest run` needs none, a schedule needs `digest server`"))
    for item in found:
        click.echo(item.line())
    if any(item.outcome == "FAIL" for item in found):
        sys.exit(EXIT_ERROR)


@main.command("send-test")
@config_option
@click.option("--outbox", type=click.Path(path_type=Path, file_okay=False), help="Outbox (default ./outbox).")
@click.option("--to", "to", required=True, multiple=True, help="Recipient address (repeatable).")
@handle_errors
def send_test(config: Path | None, outbox: Path | None, to: tuple[str, ...]) -> None:
    """Send a test copy of the latest digest to each given address, to check the SMTP settings.

    Each address gets its own fresh message: a "[test]" subject, its own Message-ID, only that
    address in To:. Nothing is recorded as sent.

    \b
    Example:
      DIGEST_SMTP_HOST=smtp.example.com DIGEST_SMTP_USER=me DIGEST_SMTP_PASSWORD=... digest send-test --to me@example.com
    """
    from digest.delivery import smtp

    settings = settings_from(config, outbox=outbox, mail_to=list(to))
    if not settings.smtp_host:
        raise ConfigError("no SMTP host: set DIGEST_SMTP_HOST (and DIGEST_SMTP_PORT, DIGEST_SMTP_SECURITY)")
    latest = sorted(settings.outbox.glob("*/digest*.eml"))
    if not latest:
        raise ConfigError(f"no digest in {settings.outbox}; run `digest run` first")
    eml = max(latest, key=lambda p: p.stat().st_mtime)
    message = smtp.test_message(eml.read_bytes(), settings)
    smtp.send(message, settings, recipients=settings.mail_to)  # validated, deduplicated
    click.echo(f"digest: sent a test copy of {eml} to {', '.join(settings.mail_to)}")


def stem(path: Path) -> str:
    """Return a file's name without .txt, .md, .html, .htm, .eml, .html.gz."""
    name = path.name
    for suffix in (".html.gz", ".htm.gz", ".html", ".htm", ".txt", ".md", ".eml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
