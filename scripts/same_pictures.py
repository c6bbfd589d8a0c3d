#!/usr/bin/env python3
"""Whether pairs of PNG images show the same picture, up to antialiasing noise.

    python scripts/same_pictures.py pairs.json   # [[old_base64, new_base64], ...] -> [bool, ...]

``tasks.py notebooks`` uses it so that re-executing a chapter on another processor leaves the
stored figures alone: where round-off changes the data of a figure (a curve at the level of
round-off, a value on a colour boundary), antialiasing shifts some pixels by a few levels while
the picture stays the same. Two images count as the same picture when they have the same size
and at most :data:`MAX_SHARE` of their pixels differ, each channel by at most :data:`MAX_LEVEL`.
"""

from __future__ import annotations

import base64
import io
import json
import sys

import numpy as np
from PIL import Image

MAX_LEVEL = 16
"""Largest difference of a channel (0..255) between two pixels of the same picture."""
MAX_SHARE = 0.01
"""Largest share of pixels that may differ at all."""


def decode(png_base64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("RGBA"),
                      dtype=np.int16)


def same_picture(old: str, new: str) -> bool:
    """``old`` and ``new`` (base64 PNG) show the same picture, up to antialiasing noise."""
    if old == new:
        return True
    a, b = decode(old), decode(new)
    if a.shape != b.shape:
        return False
    diff = np.abs(a - b).max(axis=-1)
    return bool(int(diff.max()) <= MAX_LEVEL and np.count_nonzero(diff) <= MAX_SHARE * diff.size)


def main(argv: list[str]) -> int:
    pairs = json.loads(open(argv[1]).read())
    print(json.dumps([same_picture(old, new) for old, new in pairs]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
