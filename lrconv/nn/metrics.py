"""How often a network is right: counts and fractions of correct labels (chapter 7)."""

from __future__ import annotations

import numpy as np

from lrconv._validate import check_int
from lrconv.nn._checks import as_labels
from lrconv.nn.container import Sequential
from lrconv.nn.training import _check_images, _check_model, _predict

__all__ = ["accuracy", "correct", "per_class_accuracy"]


def _check_pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D arrays of one shape; "
                         f"received {t.shape} and {p.shape}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name} must hold integer labels; received dtype {a.dtype}")
    return t, p


def accuracy(y_true: object, y_pred: object) -> float:
    """Fraction of equal labels (chapter 7)."""
    t, p = _check_pair(y_true, y_pred)
    return float(np.mean(t == p))


def per_class_accuracy(y_true: object, y_pred: object,
                       n_classes: int | None = None) -> np.ndarray:
    """Accuracy within each true class ``0..n_classes-1`` (NaN for an absent class), chapter 7.

    Labels must be non-negative; by default ``n_classes`` is one more than the largest true
    label, and no true label may reach it.
    """
    t, p = _check_pair(y_true, y_pred)
    as_labels(t, t.size, "y_true")
    k = int(t.max()) + 1 if n_classes is None else check_int(n_classes, "n_classes", 1)
    if t.max() >= k:
        raise ValueError(f"y_true must hold labels below n_classes = {k}; received a maximum "
                         f"of {t.max()}")
    hits = np.bincount(t, weights=(t == p).astype(float), minlength=k)
    counts = np.bincount(t, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def correct(model: Sequential, X: object, y: object, *, batch_size: int = 512) -> int:
    """How many images of ``X`` the network labels right: ``sum(predict(model, X) == y)``.

    Introduced in chapter 7 (450 test images: one image is 0.22 points of accuracy).
    """
    model = _check_model(model)
    x = _check_images(model, X)
    labels = as_labels(y, x.shape[0], "y")
    return int(np.sum(_predict(model, x, check_int(batch_size, "batch_size", 1)) == labels))
