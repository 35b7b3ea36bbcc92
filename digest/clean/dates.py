"""Read the publication date off a byline or date line printed near a plain-text page's headline."""

from __future__ import annotations

import re
from datetime import datetime

MONTH_NUMBERS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True)) + r")\.?"
_TIME = r"(?:\s*(?:at|,|·|-|–)?\s*(?P<hour>\d{1,2})[:.](?P<minute>\d{2})\s*(?P<half>[ap]\.?m\.?)?)?"
DATE_FORMS = (
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>(?:19|20)\d{2})\b" + _TIME, re.I),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{2})\b" + _TIME, re.I),
    re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<num>\d{1,2})-(?P<day>\d{1,2})\b" + _TIME),
)
MAX_WORDS = 20  # a byline or date line is short; a date inside a long sentence is about something else


def date_in_line(line: str) -> datetime | None:
    """Return the first calendar date (with its time of day, when printed) in a short line, or None."""
    if len(line.split()) > MAX_WORDS:
        return None
    for form in DATE_FORMS:
        match = form.search(line)
        if match is None:
            continue
        parts = match.groupdict()
        month = int(parts["num"]) if parts.get("num") else MONTH_NUMBERS[parts["month"].lower()]
        hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
        half = (parts["half"] or "").lower().replace(".", "")
        if half == "pm" and hour < 12:
            hour += 12
        elif half == "am" and hour == 12:
            hour = 0
        try:
            return datetime(int(parts["year"]), month, int(parts["day"]), hour, minute)
        except ValueError:
            try:
                return datetime(int(parts["year"]), month, int(parts["day"]))  # a bad time, a good day
            except ValueError:
                continue
    return None
