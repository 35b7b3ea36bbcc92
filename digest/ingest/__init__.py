"""Find new article files in the inbox, decode them, read their metadata, fingerprint them.

Supported: `.txt`, `.md`, `.html`, `.htm`, `.html.gz`, `.eml`. Temporary names (`.part`, `.tmp`,
`~`, dotfiles) are ignored and reported; every subfolder is read. Every problem with one file becomes an
InputError naming the file and the reason; nothing here deletes or moves files.

The package: `scan` (the inbox), `read` (safe open, gunzip, decode), `parse` (one file's bytes to a
RawArticle), one module per format (`text`, `html`, `email`), `meta` (metadata helpers they share)
and `budget` (per-file limits). The names other stages use are re-exported here.
"""

from __future__ import annotations

from digest.ingest.budget import MAX_DAYS_AHEAD, Budget, cap_title, check_lines, check_markup, count_tags, sane_date
from digest.ingest.email import cap_header_fields
from digest.ingest.html import html_meta
from digest.ingest.parse import SUFFIXES, article_id, fingerprint, kind_of, load_file, parse, parse_safely
from digest.ingest.read import COMMON_ENCODINGS, MAGIC, decode, gunzip, open_safely, read_bytes
from digest.ingest.scan import TEMP_SUFFIXES, Scan, candidates, is_temporary, packed, scan, unpacked
from digest.ingest.text import split_header_block

__all__ = [
    "COMMON_ENCODINGS",
    "MAGIC",
    "MAX_DAYS_AHEAD",
    "SUFFIXES",
    "TEMP_SUFFIXES",
    "Budget",
    "Scan",
    "article_id",
    "candidates",
    "cap_header_fields",
    "cap_title",
    "check_lines",
    "check_markup",
    "count_tags",
    "decode",
    "fingerprint",
    "gunzip",
    "html_meta",
    "is_temporary",
    "kind_of",
    "load_file",
    "open_safely",
    "packed",
    "parse",
    "parse_safely",
    "read_bytes",
    "sane_date",
    "scan",
    "split_header_block",
    "unpacked",
]
