"""The candidates a page's kept text can come from, and the page-level selector's feature names.

A leaf module (it imports nothing from the clean stage), so the model file can name the candidates
and features it was trained on without importing the chooser.
"""

from __future__ import annotations

from enum import Enum


class Pick(Enum):
    """Where a page's kept text comes from."""

    DEFAULT = "trafilatura"
    RECALL = "trafilatura favor_recall"
    PRECISION = "trafilatura favor_precision"
    MODEL = "learned blocks"


ALTERNATIVES = (Pick.RECALL, Pick.PRECISION, Pick.MODEL)
# trafilatura's options per candidate: (favor_precision, favor_recall)
MODES = {Pick.DEFAULT: (False, False), Pick.RECALL: (False, True), Pick.PRECISION: (True, False)}

# the page-level selector's features, in the order choose.choice_features computes them
CHOICE_FEATURES: tuple[str, ...] = (
    "default words",
    "default blocks",
    "default words / block",
    "default sentence share",
    "default is empty",
    *(f"{p.name.lower()} words vs default" for p in ALTERNATIVES),
    *(f"{p.name.lower()} blocks vs default" for p in ALTERNATIVES),
    *(f"default in {p.name.lower()}" for p in ALTERNATIVES),
    *(f"{p.name.lower()} in default" for p in ALTERNATIVES),
)
