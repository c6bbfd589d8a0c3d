"""lrconv: the helper package of the book *What low-rank factorization of a convolutional layer
really does*.

One module per idea (each public helper's docstring names the chapter that introduces it):

- :mod:`lrconv.conv`       direct convolution (cross-correlation) through BLAS (chapter 1)
- :mod:`lrconv.symbolic`   sympy helpers for the symbolic derivations and proofs (chapters 1, 2, 4)
- :mod:`lrconv.data`       the worked 5x5 example and a real photo (chapter 1)
- :mod:`lrconv.plotting`   the book's figures, in one house style
- :mod:`lrconv.separable`  2-D kernels as sums of outer products, separable convolution (2, 3)
- :mod:`lrconv.kernels`    classic image kernels (chapter 3)
- :mod:`lrconv.widgets`    ipywidgets explorers and the pure functions behind them (chapter 3)
- :mod:`lrconv.factors`    the factor types (CP, Tucker-2, per-slice SVD), validated when built,
  with their kernel, gradient chain rule and stage plan (chapters 4, 5, 7)
- :mod:`lrconv.decompose`  the algorithms: CP-ALS, Tucker-2 (HOSVD/HOOI), per-slice SVD (4, 5)
- :mod:`lrconv.layers`     factorized layers run stage by stage from the stage plan (chapter 4)
- :mod:`lrconv.cost`       parameters and multiply-accumulates of each form (chapters 4, 6)
- :mod:`lrconv.timing`     interleaved timing helpers (chapter 6)
- :mod:`lrconv.explorers`  explorers of stage placement, ALS, rank against time and accuracy (4-7)
- :mod:`lrconv.fused`      a compiled CP layer with the depthwise stages fused (chapter 6)
- :mod:`lrconv.nn`         a small numpy CNN: layers, the factorized-layer family, training,
  metrics and the chapters' shared digits recipe (chapters 7, 8)
- :mod:`lrconv.experiments` results over several seeds: spreads, and the runs of chapters 7, 8
- :mod:`lrconv.rank`       rank selection: energy thresholds and EVBMF (chapter 7)
- :mod:`lrconv.lora`       low-rank updates of conv and linear layers (chapter 8)
- :mod:`lrconv.exercises`  checkers for the coding exercises (every chapter; chapters 5 and 6
  in :mod:`lrconv.als_exercises`)
"""

__version__ = "0.1.0"
