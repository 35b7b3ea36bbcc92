"""The `digest` command: a thin click layer that maps options onto settings and errors onto exit codes.

`common` holds what every command shares (settings from options, errors to exit codes), `commands`
the group and its commands, `sources` the subscription commands and `digest fetch`.
"""

from __future__ import annotations

from digest.cli.commands import main
from digest.cli.sources import fetch, sources

main.add_command(sources)
main.add_command(fetch)

__all__ = ["main"]
