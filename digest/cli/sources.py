"""The `digest sources ...` and `digest fetch` commands: subscriptions and fetching them into the inbox."""

from __future__ import annotations

import os
from pathlib import Path

import click

from digest.cli.common import config_option, handle_errors, settings_from
from digest.errors import ConfigError, DigestError
from digest.settings import DEFAULT_CONFIG, Source


def config_path(config: Path | None) -> Path:
    """The settings file `sources add/import` write to: --config, DIGEST_CONFIG, else ./digest.toml."""
    return config or Path(os.environ.get("DIGEST_CONFIG", DEFAULT_CONFIG))


@click.group()
def sources() -> None:
    """Subscriptions: feeds (RSS, Atom, JSON Feed) and Maildir folders that `digest fetch` reads.

    \b
    Examples:
      digest sources add https://www.theguardian.com/world/rss --name "The Guardian"
      digest sources list
      digest sources import subscriptions.opml
      digest sources export > subscriptions.opml
    """


@sources.command("add")
@click.argument("url")
@click.option("--name", help="The outlet name shown in the digest (default: the feed's own title).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--maildir", is_flag=True, help="URL is a Maildir folder of newsletters, not a feed.")
@config_option
@handle_errors
def add(url: str, name: str | None, tags: tuple[str, ...], maildir: bool, config: Path | None) -> None:
    """Add a feed URL (or, with --maildir, a Maildir folder) to digest.toml as a [[sources]] block.

    \b
    Examples:
      digest sources add https://hnrss.org/frontpage --name "Hacker News" --tag tech
      digest sources add ~/Mail/newsletters --maildir --name Newsletters
    """
    from pydantic import ValidationError

    from digest.sources.config import append_sources

    path = config_path(config)
    current = settings_from(config)
    try:
        source = (Source(maildir=Path(url).expanduser(), name=name, tags=list(tags)) if maildir
                  else Source(url=url.strip(), name=name, tags=list(tags)))
    except ValidationError as exc:
        raise ConfigError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from exc
    if any(s.key == source.key for s in current.sources):
        click.echo(f"digest: {source.key} is already a source in {path}")
        return
    append_sources(path, [source])
    settings_from(path)  # the file must still load
    click.echo(f"digest: added {source.label} to {path}; `digest fetch` reads it")


@sources.command("list")
@config_option
@click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="State folder (default ./.digest).")
@handle_errors
def list_sources(config: Path | None, state: Path | None) -> None:
    """List the sources with their last check, outcome and saved entries.

    \b
    Example:
      digest sources list
    """
    from digest.sources.store import SourceStore

    settings = settings_from(config, state=state)
    if not settings.sources:
        click.echo("no sources: add one with `digest sources add URL`")
        return
    known, counts = {}, {}
    if (settings.state / "sources.sqlite").exists():
        with SourceStore.in_state(settings.state) as store:
            known, counts = store.sources(), store.counts()
    for s in settings.sources:
        click.echo(f"{s.label}{'  [' + ', '.join(s.tags) + ']' if s.tags else ''}")
        if s.name:
            click.echo(f"  {s.key}")
        st = known.get(s.key)
        n = counts.get(s.key, {})
        if st is None:
            click.echo("  not fetched yet")
            continue
        line = f"  last checked {st.checked}: {st.outcome}"
        if st.outcome == "failed":
            line += f" ({st.reason}; {st.failures} failure{'s' if st.failures > 1 else ''} in a row)"
        click.echo(line + f"; {n.get('saved', 0)} saved, {n.get('new', 0)} waiting, {n.get('failed', 0)} given up")


@sources.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@config_option
@handle_errors
def import_opml(file: Path, config: Path | None) -> None:
    """Add every feed of an OPML file (from another feed reader) to digest.toml.

    \b
    Example:
      digest sources import ~/Downloads/feedly.opml
    """
    from digest.sources.config import append_sources
    from digest.sources.opml import read_opml

    path = config_path(config)
    current = settings_from(config)
    have = {s.key for s in current.sources}
    found = read_opml(file)
    new = [s for s in found if s.key not in have]
    if new:
        append_sources(path, new)
        settings_from(path)
    click.echo(f"digest: {len(found)} feeds in {file}, {len(new)} new added to {path}")


@sources.command("export")
@config_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of printing.")
@handle_errors
def export_opml(config: Path | None, out: Path | None) -> None:
    """Print the feed sources as OPML 2.0, for another feed reader.

    \b
    Examples:
      digest sources export > subscriptions.opml
      digest sources export --out subscriptions.opml
    """
    from digest.sources.opml import write_opml

    text = write_opml(list(settings_from(config).sources))
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"digest: wrote {out}")
    else:
        click.echo(text, nl=False)


@click.command()
@config_option
@click.option("--inbox", type=click.Path(path_type=Path, file_okay=False), help="Folder of new articles (default ./inbox).")
@click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="State folder (default ./.digest).")
@handle_errors
def fetch(config: Path | None, inbox: Path | None, state: Path | None) -> None:
    """Run the fetch-sources flow once, now: each source's new entries become inbox files.

    Feeds are fetched with conditional GETs; each entry is saved once, ever. A failing source is
    reported with its reason and tried again next time. `digest run --fetch` fetches, then digests.

    \b
    Examples:
      digest fetch
      digest fetch --inbox ~/news/inbox --state ~/news/.digest
    """
    settings = settings_from(config, inbox=inbox, state=state)
    if not settings.sources:
        raise ConfigError("no sources configured: add one with `digest sources add URL` (or [[sources]] in digest.toml)")
    from flows.fetch_sources import fetch_sources_with

    result = fetch_sources_with(settings)
    outcomes = [s["outcome"] for s in result["sources"]]  # type: ignore[attr-defined]
    if outcomes and all(o == "failed" for o in outcomes):
        raise DigestError(f"all {len(outcomes)} sources failed (reasons above); check the network and the URLs")
