"""The classic 2-D image kernels, as small numpy arrays.

Introduced in chapter 3, which computes the rank of each of them: the box blur, the Gaussian
blur and the derivative filters (Sobel, Prewitt, Scharr) are outer products of two vectors
(rank 1); the Laplacians and the sharpening kernel have rank 2; the disk blur has rank 3; a
random kernel has full rank.

Kernels are returned as float arrays ``(kh, kw)`` and are applied by cross-correlation
(:func:`lrconv.conv.conv2d`), as in deep learning.

Bad input: sizes, radii and seeds must be integers (bools excluded; ``TypeError``), sizes odd
and at least 1, radii at least 1, seeds at least 0, ``sigma`` a finite real number above 0
(``ValueError``). A kernel above the 2 GiB memory budget is refused before it is allocated.
"""

from __future__ import annotations

import numpy as np

from lrconv._validate import check_budget, check_float, check_int

__all__ = [
    "box_kernel",
    "classic_kernels",
    "disk_kernel",
    "gaussian_kernel",
    "random_kernel",
]


def _check_size(size: object, odd: bool = True) -> int:
    size = check_int(size, "size", 1)
    if odd and size % 2 == 0:
        raise ValueError(f"size must be odd (the kernel has a centre); received {size}")
    check_budget(size * size, 8, f"a {size} x {size} kernel (size = {size})")
    return size


def box_kernel(size: int = 3) -> np.ndarray:
    """The ``size x size`` moving average: every entry ``1 / size**2`` (chapter 3)."""
    size = _check_size(size)
    return np.full((size, size), 1.0 / size**2)


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Sampled Gaussian blur ``g g^T`` normalised to sum 1, ``g_k = exp(-k^2 / (2 sigma^2))``.

    Introduced in chapter 3.

    Parameters
    ----------
    size : int
        Odd side length.
    sigma : float
        Standard deviation in pixels, ``> 0``.
    """
    size = _check_size(size)
    sigma = check_float(sigma, "sigma", minimum=0.0, strict=True)
    k = np.arange(size) - size // 2
    two_var = 2.0 * sigma * sigma  # inf for huge sigma (a box), 0 for tiny sigma (a point)
    if two_var > 0:
        with np.errstate(over="ignore"):
            g = np.exp(-(k**2) / two_var)
    else:
        g = (k == 0).astype(np.float64)
    kernel = np.outer(g, g)
    return kernel / kernel.sum()


def disk_kernel(radius: int = 2) -> np.ndarray:
    """Disk ("bokeh") blur: 1 where ``i^2 + j^2 <= radius^2``, normalised to sum 1 (chapter 3).

    The side is ``2 radius + 1``. Unlike the Gaussian, a disk is not an outer product.
    """
    radius = check_int(radius, "radius", 1)
    side = 2 * radius + 1
    check_budget(side * side, 8, f"a {side} x {side} disk (radius = {radius})")
    k = np.arange(-radius, radius + 1)
    mask = (k[:, None] ** 2 + k[None, :] ** 2) <= radius**2
    return mask / mask.sum()


def random_kernel(size: int = 3, seed: int = 0) -> np.ndarray:
    """A ``size x size`` kernel of standard normal entries from ``default_rng(seed)`` (chapter 3).

    With probability one it has full rank ``size``.
    """
    size = _check_size(size, odd=False)
    seed = check_int(seed, "seed", 0)
    return np.random.default_rng(seed).standard_normal((size, size))


def classic_kernels(seed: int = 0) -> dict[str, np.ndarray]:
    """The kernels chapter 3 studies, by name, in a fixed order (chapter 3).

    Returns
    -------
    dict of str to ndarray
        ``"box"`` (3 x 3), ``"Gaussian"`` (5 x 5, sigma 1), ``"Sobel x"``, ``"Sobel y"``,
        ``"Prewitt x"``, ``"Scharr x"``, ``"Laplacian 4"`` (4-neighbour), ``"Laplacian 8"``
        (8-neighbour), ``"sharpen"``, ``"disk"`` (5 x 5, radius 2) and ``"random"`` (3 x 3,
        standard normal from ``seed``). The ``x`` derivative filters respond to changes along
        the columns (vertical edges); ``"Sobel y"`` is the transpose of ``"Sobel x"``.
    """
    smooth = np.array([1.0, 2.0, 1.0])
    diff = np.array([1.0, 0.0, -1.0])
    sobel_x = np.outer(smooth, diff)
    return {
        "box": box_kernel(3),
        "Gaussian": gaussian_kernel(5, 1.0),
        "Sobel x": sobel_x,
        "Sobel y": sobel_x.T.copy(),
        "Prewitt x": np.outer(np.ones(3), diff),
        "Scharr x": np.outer([3.0, 10.0, 3.0], diff),
        "Laplacian 4": np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
        "Laplacian 8": np.array([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]]),
        "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
        "disk": disk_kernel(2),
        "random": random_kernel(3, seed),
    }
