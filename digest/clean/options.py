"""The clean stage's tuning in one frozen object, with named defaults (as jusText's keyword arguments).

The learned weights and thresholds live in the model file (`model.json`, see `model.py`); this object
holds the rest and says which model to use, so a benchmark can pass a model trained without the pages
it scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.clean.model import CleanModel, shipped
from digest.errors import ConfigError

SELECTOR_MODES: tuple[str, ...] = ("RECALL", "PRECISION")  # every mode the selector can choose from


@dataclass(frozen=True)
class CleanOptions:
    """Every tunable of the clean stage; the defaults are the measured best (bench/boilerplate.py)."""

    model: CleanModel | None = None  # None: the model shipped in the package
    use_model: bool = True  # False: the hand rules alone (the model's features are still the rules' signals)
    # HTML: trafilatura's default result, one run per page. `alternatives` names trafilatura modes to run
    # beside it, of which a learned page-level selector (choose.py) keeps one where it is likely better:
    # on sites it was not tuned on that selection is level with the default alone (F1 0.938 vs 0.943,
    # 0.888 vs 0.880, 0.892 vs 0.894 on three held-out sets) at three times the work, so none run by
    # default; training passes SELECTOR_MODES to learn the selector and the block model
    alternatives: tuple[str, ...] = ()  # Pick names: trafilatura modes run beside the default
    default_fast: bool = False  # the default candidate as bare trafilatura runs it (with its fallback extractors)
    # the block model judges the recall-first extraction (without fallbacks: measured best on cleaning-dev, and fast)
    favor_precision: bool = False
    favor_recall: bool = True
    fast: bool = True  # True skips trafilatura's fallback extractors (readability, jusText) for the alternatives
    comments: bool = True  # hand the page's comments section to the model too (it keeps what reads as content)
    fallback_share: float = 0.3  # keep trafilatura's output whole when the model would keep less of its words
    min_body_words: int = 12  # fewer words than this in the kept body is no article
    explain: bool = True  # False: the model's probability and top features stay out of the reasons (runs keep counts only)
    # learning chrome across an inbox batch
    min_files: int = 3  # a line must recur in at least this many unrelated files to be learned as chrome
    copy_share: float = 0.3  # files sharing this much of their prose are copies of one article, not one site
    prose_words: int = 15  # a line this long (in words) is prose, which sites do not repeat across pages

    def __post_init__(self) -> None:
        unknown = set(self.alternatives) - {"RECALL", "PRECISION"}
        if unknown:
            raise ConfigError(f"unknown trafilatura mode(s) {sorted(unknown)} in alternatives; use RECALL and/or PRECISION")

    def resolved_model(self) -> CleanModel:
        """Return the model to use: the one given, or the one shipped in the package."""
        return self.model if self.model is not None else shipped()


DEFAULT_OPTIONS = CleanOptions()
SELECTOR_OPTIONS = CleanOptions(alternatives=SELECTOR_MODES)  # what training runs: every candidate
RUN_OPTIONS = CleanOptions(explain=False)  # a digest run: the decisions' reasons are dropped after cleaning
