"""lrconv: the helper package of the book *What low-rank factorization of a convolutional layer
really does*.

One module per idea (see each module's docstring for the chapter that introduces it):

- :mod:`lrconv.conv`       direct convolution (cross-correlation) through BLAS
- :mod:`lrconv.separable`  2-D kernels as sums of outer products, separable convolution
- :mod:`lrconv.symbolic`   sympy helpers for the symbolic derivations and proofs
- :mod:`lrconv.data`       the seed's 5x5 example and a real photo
- :mod:`lrconv.plotting`   the book's figures, in one house style
"""

__version__ = "0.1.0"
