"""The book's data: the seed post's 5x5 example and a real RGB photo, both available offline.

The photo is matplotlib's sample image ``grace_hopper.jpg`` (a portrait of Rear Admiral Grace
Hopper), which ships inside every matplotlib installation; nothing is downloaded.

Introduced in chapter 1.

Bad input: a ``size`` that is not ``None``, an int or a pair of ints (bools excluded) raises
``TypeError``; sizes below 1, pairs of the wrong length and sizes larger than the photo raise
``ValueError``, naming ``size``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lrconv._validate import check_int

__all__ = ["PHOTO_NAME", "SeedExample", "sample_gray", "sample_photo", "seed_example"]

#: File name of the photo inside matplotlib's sample data.
PHOTO_NAME = "grace_hopper.jpg"


class SeedExample(NamedTuple):
    """The seed post's example (chapter 1).

    Attributes
    ----------
    X : ndarray of int, shape (5, 5)
        The input.
    K : ndarray of int, shape (3, 3)
        The vertical-edge kernel, three rows ``[1, 0, -1]``.
    a1 : ndarray of int, shape (3,)
        The vertical factor ``[1, 1, 1]``.
    b1 : ndarray of int, shape (3,)
        The horizontal factor ``[1, 0, -1]``; ``K == np.outer(a1, b1)``.
    """

    X: np.ndarray
    K: np.ndarray
    a1: np.ndarray
    b1: np.ndarray


def seed_example() -> SeedExample:
    """Return fresh copies of the seed post's ``X``, ``K``, ``a1`` and ``b1`` (chapter 1).

    ``K`` is exactly the outer product of ``a1`` and ``b1``; cross-correlating ``X`` with
    ``K`` gives -2 at the top-left.
    """
    x = np.array(
        [
            [1, 2, 3, 0, 1],
            [0, 1, 2, 3, 0],
            [3, 0, 1, 2, 3],
            [2, 3, 0, 1, 2],
            [1, 2, 3, 0, 1],
        ],
        dtype=np.int64,
    )
    k = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.int64)
    a1 = np.array([1, 1, 1], dtype=np.int64)
    b1 = np.array([1, 0, -1], dtype=np.int64)
    return SeedExample(x, k, a1, b1)


def _photo_path() -> str:
    from matplotlib import cbook

    return str(cbook.get_sample_data(PHOTO_NAME, asfileobj=False))


def sample_photo(size: int | tuple[int, int] | None = None) -> np.ndarray:
    """A real RGB photo as a float array of shape ``(3, H, W)`` with values in [0, 1].

    Introduced in chapter 1. Channels come first (PyTorch's layout): ``photo[0]`` is red,
    ``photo[1]`` green, ``photo[2]`` blue. The full photo is 600 x 512 (H x W).

    Parameters
    ----------
    size : int or (H, W), optional
        Downscale (box filter, i.e. averaging of the pixels each new pixel covers) to this
        size. An int is the new height; the width follows the aspect ratio. ``None`` keeps the
        full resolution. Sizes larger than the photo are refused.

    Returns
    -------
    ndarray of float64, shape (3, H, W)
    """
    from PIL import Image

    with Image.open(_photo_path()) as img:
        rgb = img.convert("RGB")
        width, height = rgb.size
        if size is not None:
            new_h, new_w = _target_size(size, height, width)
            if (new_h, new_w) != (height, width):
                rgb = rgb.resize((new_w, new_h), Image.Resampling.BOX)
        arr = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.ascontiguousarray(np.moveaxis(arr, -1, 0))


def sample_gray(size: int | tuple[int, int] | None = None) -> np.ndarray:
    """The photo of :func:`sample_photo` in grey scale, shape ``(H, W)``, values in [0, 1].

    Introduced in chapter 1. Luminance ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601).
    """
    photo = sample_photo(size)
    return np.tensordot(np.array([0.299, 0.587, 0.114]), photo, axes=1)


def _target_size(size: object, height: int, width: int) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size must be an int or a pair (H, W); received {size!r} "
                             f"(length {len(size)})")
        new_h = check_int(size[0], "size[0]", 1)
        new_w = check_int(size[1], "size[1]", 1)
    else:
        new_h = check_int(size, "size", 1)
        new_w = max(1, round(width * new_h / height))
    if new_h > height or new_w > width:
        raise ValueError(
            f"size ({new_h}, {new_w}) is larger than the photo ({height}, {width}); "
            "only downscaling is supported"
        )
    return new_h, new_w
