"""Why a line is chrome, judged on its own: one enum, so control flow never compares free text.

Each member's value is the readable reason shown by `digest clean --explain`; its group is the
feature the learned model sees.
"""

from __future__ import annotations

from enum import StrEnum


class Group(StrEnum):
    """The few kinds of flag the model weighs separately."""

    INTERFACE = "interface"
    LIST = "list"
    DATE = "date"
    CAPTION = "caption"
    BYLINE = "byline"
    REPEATED = "repeated"
    LEARNED = "learned"
    OTHER = "other"


class Flag(StrEnum):
    """A reason a single line (or HTML block) is site chrome."""

    NO_WORDS = "no words"
    TEASER = "teaser excerpt (a cut-off summary of another post)"
    WIDGET = "widget with a count"
    NUMBER = "number or date"
    DATE_LINE = "date line"
    KEYWORDS = "keyword list"
    MENU_LINE = "menu line of separated items"
    SUBSCRIBE = "subscribe banner"
    SIGN_IN = "sign-in link"
    SHARE = "share bar"
    FOLLOW = "follow-us link"
    COOKIE = "cookie notice"
    AD = "advertisement"
    DISPLAY = "display toggle"
    LEGAL_FOOTER = "legal footer"
    NAV_LINK = "navigation link"
    LEGAL_NOTICE = "legal notice"
    BYLINE = "byline"
    COMMENT_HEADER = "comment header"
    CAPTION = "photo caption or credit"
    LEARNED = "line recurs across unrelated inbox files (learned boilerplate)"
    REPEATED = "repeated line"
    TAIL = "related/trending tail"

    @property
    def group(self) -> Group:
        """Return the kind of chrome this flag names, as the model weighs it."""
        return _GROUPS.get(self, Group.INTERFACE)


_GROUPS = {
    Flag.KEYWORDS: Group.LIST,
    Flag.MENU_LINE: Group.LIST,
    Flag.NUMBER: Group.DATE,
    Flag.DATE_LINE: Group.DATE,
    Flag.CAPTION: Group.CAPTION,
    Flag.BYLINE: Group.BYLINE,
    Flag.REPEATED: Group.REPEATED,
    Flag.LEARNED: Group.LEARNED,
    Flag.WIDGET: Group.OTHER,
    Flag.COMMENT_HEADER: Group.OTHER,
    Flag.TEASER: Group.OTHER,
    Flag.NO_WORDS: Group.OTHER,
    Flag.TAIL: Group.OTHER,
}
GROUPS = tuple(Group)
