"""Test-only helpers for the browser and PDF suites; the browser and server tooling itself lives
in scripts/site_tools.py (shared with the PDF script) and is imported from there."""

from __future__ import annotations

import os
import re
import unicodedata

# Chapter 2's comparison of three results for the same window: -2 from the full kernel, 0 from
# the blog post's hand procedure, -2 from the separable passes, in that order, each number after
# its label (only label text, no other number, in between).
SEED_COMPARISON = re.compile(
    r"-2 [^\d\-]{1,80}? 0 [^\d\-]{0,80}?separable[^\d\-]{0,80}? -2(?![\d.])", re.I
)


def normal_text(text: str) -> str:
    """Ligatures unfolded, typographic minus as '-', whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


def shows_seed_comparison(text: str) -> bool:
    return SEED_COMPARISON.search(normal_text(text)) is not None


def browser_required() -> bool:
    """CI sets LRCONV_REQUIRE_BROWSER=1: a missing browser is then a failure, not a skip."""
    return os.environ.get("LRCONV_REQUIRE_BROWSER", "") == "1"
