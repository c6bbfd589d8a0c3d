"""A small, readable convolutional network in numpy: layers, backpropagation, training.

Introduced in chapter 7 (a trained network); chapter 8 adapts it (:mod:`lrconv.lora`).
Deterministic for a given seed; float64 by default, float32 where speed matters (the digits
recipe), and the same code for both.

One module per concern:

- :mod:`~lrconv.nn.layers`      the layer protocol; ReLU, pooling, flatten, linear
- :mod:`~lrconv.nn.convolution` the convolution layer, its im2col forward and backward passes
- :mod:`~lrconv.nn.factorized`  the factorized-layer family (CP, Tucker-2, per-slice SVD, and
  the base of the low-rank updates), one ``from_conv(conv, form, rank)`` entry
- :mod:`~lrconv.nn.container`   :class:`Sequential` and the book's :func:`small_cnn`
- :mod:`~lrconv.nn.training`    loss, optimizers, the training loop, prediction
- :mod:`~lrconv.nn.metrics`     accuracy, per-class accuracy, the count of right answers
- :mod:`~lrconv.nn.recipe`      the chapters' shared experiment: digits split, schedule, network
"""

from lrconv.nn.container import Sequential, small_cnn
from lrconv.nn.convolution import Conv2d, conv2d_backward
from lrconv.nn.factorized import (
    CPConv2d,
    FactorizedConv2d,
    SliceSVDConv2d,
    Tucker2Conv2d,
    UpdateConv2d,
    balance_cp,
)
from lrconv.nn.layers import AvgPool2d, Flatten, Layer, Linear, MaxPool2d, ReLU
from lrconv.nn.metrics import accuracy, correct, per_class_accuracy
from lrconv.nn.recipe import (
    DIGITS_SCHEDULE,
    DigitsSplit,
    Schedule,
    fine_tune,
    load_digits_split,
    sample_per_class,
    train_digits_cnn,
)
from lrconv.nn.training import SGD, Adam, History, evaluate, predict, softmax_cross_entropy, train

__all__ = [
    "DIGITS_SCHEDULE",
    "SGD",
    "Adam",
    "AvgPool2d",
    "CPConv2d",
    "Conv2d",
    "DigitsSplit",
    "FactorizedConv2d",
    "Flatten",
    "History",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Schedule",
    "Sequential",
    "SliceSVDConv2d",
    "Tucker2Conv2d",
    "UpdateConv2d",
    "accuracy",
    "balance_cp",
    "conv2d_backward",
    "correct",
    "evaluate",
    "fine_tune",
    "load_digits_split",
    "per_class_accuracy",
    "predict",
    "sample_per_class",
    "small_cnn",
    "softmax_cross_entropy",
    "train",
    "train_digits_cnn",
]
