"""Small objects several test modules build the same way."""

from __future__ import annotations

import numpy as np


def tiny_nets() -> tuple[dict, tuple[np.ndarray, ...]]:
    """Two trained ``small_cnn`` networks (seeds 0 and 1, channels (2, 4), three classes) and
    a split ``(X_train, X_test, y_train, y_test)`` of 30 + 10 random 8x8 images: enough for the
    runs over seeds of chapters 7 and 8, in a fraction of a second."""
    from lrconv import nn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 1, 8, 8))
    y = np.arange(40) % 3
    nets = {}
    for s in (0, 1):
        net = nn.small_cnn(s, channels=(2, 4), n_classes=3)
        nn.train(net, x, y, epochs=1, batch_size=20, optimizer=nn.Adam(lr=1e-2), seed=s)
        nets[s] = net
    return nets, (x[:30], x[30:], y[:30], y[30:])
