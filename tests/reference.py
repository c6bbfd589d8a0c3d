"""Plain-loop reference convolutions: slow, obviously correct, for tests to compare against.

Every output pixel is one explicit sum over the kernel taps of the zero-padded input, exactly as
the definition reads; nothing here is vectorised.
"""

from __future__ import annotations

import numpy as np


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _pad(image: np.ndarray, ph: int, pw: int) -> list[list[float]]:
    """Zero-pad a 2-D array into nested Python lists."""
    h, w = image.shape
    rows = []
    for r in range(h + 2 * ph):
        row = []
        for c in range(w + 2 * pw):
            inside = ph <= r < ph + h and pw <= c < pw + w
            row.append(float(image[r - ph, c - pw]) if inside else 0.0)
        rows.append(row)
    return rows


def correlate_single(image, kernel, stride=1, padding=0) -> np.ndarray:
    """Cross-correlate one 2-D image with one 2-D kernel, with loops over pixels and taps."""
    image, kernel = np.asarray(image), np.asarray(kernel)
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    kh, kw = kernel.shape
    padded = _pad(image, ph, pw)
    ho = (len(padded) - kh) // sh + 1
    wo = (len(padded[0]) - kw) // sw + 1
    out = np.zeros((ho, wo))
    for r in range(ho):
        for c in range(wo):
            total = 0.0
            for i in range(kh):
                for j in range(kw):
                    total += float(kernel[i, j]) * padded[r * sh + i][c * sw + j]
            out[r, c] = total
    return out


def reference_conv2d(x, kernel, stride=1, padding=0) -> np.ndarray:
    """Reference for ``lrconv.conv.conv2d`` (2-D, 3-D or 4-D input), as float64."""
    x, kernel = np.asarray(x), np.asarray(kernel)
    if x.ndim == 2:
        return correlate_single(x, kernel, stride, padding)
    batch = x if x.ndim == 4 else x[None]
    results = []
    for image in batch:
        channels_out = []
        for o in range(kernel.shape[0]):
            total = 0.0
            for i in range(kernel.shape[1]):
                total = total + correlate_single(image[i], kernel[o, i], stride, padding)
            channels_out.append(total)
        results.append(np.stack(channels_out))
    out = np.stack(results)
    return out if x.ndim == 4 else out[0]


def reference_depthwise_conv2d(x, kernel, stride=1, padding=0) -> np.ndarray:
    """Reference for ``lrconv.conv.depthwise_conv2d``: channel ``c`` with filter ``c``."""
    x, kernel = np.asarray(x), np.asarray(kernel)
    batch = x if x.ndim == 4 else x[None]
    out = np.stack([
        np.stack([correlate_single(image[c], kernel[c], stride, padding)
                  for c in range(kernel.shape[0])])
        for image in batch
    ])
    return out if x.ndim == 4 else out[0]


def reference_pointwise_conv2d(x, weight) -> np.ndarray:
    """Reference for ``lrconv.conv.pointwise_conv2d``, with loops over pixels."""
    x, weight = np.asarray(x), np.asarray(weight)
    weight = weight.reshape(weight.shape[0], weight.shape[1])
    batch = x if x.ndim == 4 else x[None]
    n, c_in, h, w = batch.shape
    out = np.zeros((n, weight.shape[0], h, w))
    for b in range(n):
        for o in range(weight.shape[0]):
            for r in range(h):
                for c in range(w):
                    out[b, o, r, c] = sum(float(weight[o, i]) * float(batch[b, i, r, c])
                                          for i in range(c_in))
    return out if x.ndim == 4 else out[0]
