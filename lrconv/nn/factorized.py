"""Factorized convolution layers: one family, one constructor, one entry from a dense layer.

Introduced in chapter 7 (factorize a trained layer, then fine-tune its factors); chapter 8 adds
low-rank updates of a frozen kernel (:mod:`lrconv.lora`) on the same base.

A factorized layer stores a factor type of :mod:`lrconv.factors` (validated once, when the
layer is built) whose arrays are the layer's parameters. The factor type knows the kernel
(``to_kernel``) and the chain rule from ``dL/dK`` to its factors (``kernel_grads``); the layer
adds nothing to either. Training runs the dense passes of :class:`~lrconv.nn.Conv2d` with the
kernel rebuilt once per forward pass: the backward pass needs the input's im2col matrix and
``dL/dK`` anyway, so on the book's small images one matrix product is the cheapest forward pass
too. :meth:`FactorizedConv2d.run_stages` computes the same output as the form's cheap stages
(:mod:`lrconv.layers`).

One entry builds any member from a dense layer::

    FactorizedConv2d.from_conv(conv, "cp", 24)            # CP-ALS, then balanced factors
    FactorizedConv2d.from_conv(conv, "tucker2", (16, 8))
    FactorizedConv2d.from_conv(conv, "cp", 24, init="random", seed=1)   # same shapes, random
    FactorizedConv2d.from_conv(conv, "locon", 4, seed=0)  # a low-rank update (lrconv.lora)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from lrconv._validate import Pair, check_float, check_int
from lrconv.conv import conv2d
from lrconv.decompose import cp_decompose, slice_svd_decompose, tucker2_decompose
from lrconv.factors import CPFactors, SliceSVDFactors, Tucker2Factors
from lrconv.layers import cp_conv2d, slice_svd_conv2d, tucker2_conv2d
from lrconv.nn._checks import Seed, as_batch, as_generator, check_dtype, check_size, check_type
from lrconv.nn.convolution import Conv2d
from lrconv.nn.layers import Layer

__all__ = ["CPConv2d", "FactorizedConv2d", "SliceSVDConv2d", "Tucker2Conv2d", "UpdateConv2d",
           "balance_cp"]

INITS = ("decompose", "random")


def _seed_int(seed: Seed) -> int:
    """An int seed: ``seed`` itself, or one drawn from a Generator."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**32))
    return check_int(seed, "seed", 0)


class FactorizedConv2d(Conv2d):
    """A convolution whose kernel is a function of trainable factors (chapter 7).

    Subclasses name their factor type (``factor_type``) and their form (``form``, the key of
    :meth:`from_conv`), how to factorize a kernel (``_decompose``) and how to draw random
    factors (``_random``). Everything else is here.

    Parameters
    ----------
    factors : a factor type of :mod:`lrconv.factors` (or a tuple of its arrays)
        Copied; the copies are the layer's parameters (``params()`` names them by field).
    bias : array_like, shape (C_out,), optional
        Zeros if omitted.
    stride, padding : int or (int, int)
    dtype : float32 or float64, optional
        By default float32 if every factor is float32, else float64.
    """

    form: ClassVar[str] = ""
    factor_type: ClassVar[type] = tuple
    _forms: ClassVar[dict[str, type[FactorizedConv2d]]] = {}

    def __init_subclass__(cls, form: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if form:
            cls.form = form
            FactorizedConv2d._forms[form] = cls

    def __init__(self, factors: object, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0, dtype: object = None) -> None:
        Layer.__init__(self)
        f = self._check_factors(factors, dtype)
        self._factors = f
        self._params = dict(zip(f._fields, f, strict=True))
        self._setup(f.shape[0], bias, stride, padding, f[0].dtype)

    def _check_factors(self, factors: object, dtype: object) -> tuple:
        kind = self.factor_type
        if type(self) is FactorizedConv2d or kind is tuple:
            raise TypeError("FactorizedConv2d is the base of the factorized layers; build a "
                            "CPConv2d, Tucker2Conv2d or SliceSVDConv2d, or use from_conv")
        fields = kind._fields
        if not isinstance(factors, tuple) or len(factors) != len(fields):
            raise TypeError(f"factors must be {kind.__name__}({', '.join(fields)}); received "
                            f"{type(factors).__name__}")
        f = kind(*factors)  # validates the shapes
        dt = np.result_type(*f) if dtype is None else check_dtype(dtype)
        return kind(*(np.array(a, dtype=dt, order="C") for a in f))

    # ---- the one entry from a dense layer
    @classmethod
    def from_conv(cls, conv: Conv2d, form: str, rank: object, *, seed: Seed = 0,
                  **options: object) -> FactorizedConv2d:
        """Factorize ``conv`` in ``form`` at ``rank``; stride, padding, bias and type kept.

        Parameters
        ----------
        conv : lrconv.nn.Conv2d
            Any convolution layer (its ``kernel()`` is factorized).
        form : str
            ``"cp"``, ``"tucker2"`` (``rank`` a pair ``(R_out, R_in)`` or one int for both),
            ``"slice_svd"``, or a low-rank update of :mod:`lrconv.lora`: ``"locon"``,
            ``"cp_update"``.
        rank : int or (int, int)
        seed : int or numpy Generator
            For CP-ALS's start and for random factors.
        **options
            ``init="decompose"`` (default) or ``"random"`` (factors of the same shapes drawn at
            random with the kernel's entries ``N(0, 2 / (C_in kh kw))`` as in He
            initialisation, and a zero bias: the control for "does decomposing help?").
            CP: ``max_iter``, ``tol``, ``balance`` (default True: the four columns of each
            component get equal norms). Updates: ``scale``, ``train_bias``.
        """
        check_type(conv, Conv2d, "conv", "a lrconv.nn.Conv2d")
        layer_cls = cls._form_class(form)
        return layer_cls._from_conv(conv, rank, seed=seed, **options)

    @classmethod
    def _form_class(cls, form: object) -> type[FactorizedConv2d]:
        if form in ("locon", "cp_update") and form not in FactorizedConv2d._forms:
            import lrconv.lora  # noqa: F401  (registers the update forms)
        if not isinstance(form, str) or form not in FactorizedConv2d._forms:
            raise ValueError(f"form must be one of {sorted(FactorizedConv2d._forms)}; received "
                             f"{form!r}")
        return FactorizedConv2d._forms[form]

    @classmethod
    def _from_conv(cls, conv: Conv2d, rank: object, *, seed: Seed = 0,
                   init: str = "decompose", **options: object) -> FactorizedConv2d:
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; received {init!r}")
        kernel = np.asarray(conv.kernel(), dtype=np.float64)
        if init == "random":
            if options:
                raise TypeError(f"init='random' takes no options; received {sorted(options)}")
            factors = cls._random(kernel.shape, rank, as_generator(seed, "seed"))
            bias = None
        else:
            factors = cls._decompose(kernel, rank, seed, **options)
            bias = conv.bias
        return cls(factors, bias, stride=conv.stride, padding=conv.padding, dtype=conv.dtype)

    @classmethod
    def _decompose(cls, kernel: np.ndarray, rank: object, seed: Seed, **options: object) -> tuple:
        raise NotImplementedError

    @classmethod
    def _random(cls, shape: tuple[int, ...], rank: object, rng: np.random.Generator) -> tuple:
        raise NotImplementedError

    # ---- kernel and gradients, from the factor type
    @property
    def factors(self) -> tuple:
        """The factors (their arrays are the layer's parameters, updated in place)."""
        return self._factors

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self._factors.shape

    def kernel(self) -> np.ndarray:
        """The ``(C_out, C_in, kh, kw)`` kernel the layer applies, rebuilt from the factors."""
        return self._factors.to_kernel()

    def _param_grads(self, grad_kernel: np.ndarray, grad_bias: np.ndarray) -> dict:
        grads = self._factors.kernel_grads(grad_kernel)
        return {**dict(zip(grads._fields, grads, strict=True)), "bias": grad_bias}

    def run_stages(self, x: object) -> np.ndarray:
        """The layer's output computed as the form's cheap stages (:mod:`lrconv.layers`)."""
        xa = as_batch(x, "x", self.dtype, 4, "(N, C_in, H, W)")
        return self._stages(xa, self._factors, stride=self.stride, padding=self.padding,
                            bias=self.bias)

    @staticmethod
    def _stages(x: np.ndarray, factors: tuple, **kwargs: object) -> np.ndarray:
        raise NotImplementedError

    def _cast(self, dtype: np.dtype) -> None:
        super()._cast(dtype)
        self._factors = self.factor_type(*(self._params[n] for n in self.factor_type._fields))

    @classmethod
    def random(cls, form: str, shape: tuple[int, int, int, int], rank: object, *,
               seed: Seed = 0, stride: Pair = 1, padding: Pair = 0,
               dtype: object = np.float64) -> FactorizedConv2d:
        """A layer of ``form`` for a kernel of ``shape`` with random factors and zero bias.

        The factors are drawn so that the kernel's entries have variance ``2 / (C_in kh kw)``
        (He initialisation), the scale spread evenly over the factors.
        """
        layer_cls = cls._form_class(form)
        if not isinstance(shape, (tuple, list)) or len(shape) != 4:
            raise TypeError(f"shape must be (C_out, C_in, kh, kw); received {shape!r}")
        dims = tuple(check_int(s, f"shape[{i}]", 1) for i, s in enumerate(shape))
        check_size(dims, "the kernel of a random factorized layer")
        factors = layer_cls._random(dims, rank, as_generator(seed, "seed"))
        return layer_cls(factors, None, stride=stride, padding=padding, dtype=dtype)


def _he_variance(shape: tuple[int, ...]) -> float:
    return 2.0 / (shape[1] * shape[2] * shape[3])


class CPConv2d(FactorizedConv2d, form="cp"):
    """A rank-``R`` CP convolution with trainable factors (chapter 7).

    ``K = einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``
    (:class:`lrconv.factors.CPFactors`); :meth:`run_stages` runs the four stages.
    """

    factor_type = CPFactors

    @classmethod
    def from_conv(cls, conv: Conv2d, rank: int, *, seed: Seed = 0, max_iter: int = 500,
                  tol: float = 1e-10, balance: bool = True, init: str = "decompose",
                  ) -> CPConv2d:
        """``FactorizedConv2d.from_conv(conv, "cp", rank, ...)``: CP-ALS
        (:func:`lrconv.decompose.cp_decompose`), with ``balance`` each component's weight spread
        evenly over its four columns (the kernel unchanged), which suits gradient steps."""
        options = {} if init == "random" else {"max_iter": max_iter, "tol": tol,
                                                "balance": balance}
        return FactorizedConv2d.from_conv(conv, "cp", rank, seed=seed, init=init, **options)

    @classmethod
    def _decompose(cls, kernel: np.ndarray, rank: object, seed: Seed, *, max_iter: int = 500,
                   tol: float = 1e-10, balance: bool = True) -> CPFactors:
        f = cp_decompose(kernel, rank, max_iter=max_iter, tol=tol, seed=_seed_int(seed))
        return f.balanced() if balance else f

    @classmethod
    def _random(cls, shape: tuple[int, ...], rank: object, rng: np.random.Generator) -> CPFactors:
        r = check_int(rank, "rank", 1)
        std = (_he_variance(shape) / r) ** 0.125  # four factors, R terms
        return CPFactors(*(std * rng.standard_normal((n, r)) for n in shape))

    _stages = staticmethod(cp_conv2d)


class Tucker2Conv2d(FactorizedConv2d, form="tucker2"):
    """A Tucker-2 convolution (1x1, ``kh x kw`` core, 1x1) with trainable factors (chapter 7).

    ``K = einsum('abhw,oa,ib->oihw', core, out, inp)`` (:class:`lrconv.factors.Tucker2Factors`).
    """

    factor_type = Tucker2Factors

    @classmethod
    def from_conv(cls, conv: Conv2d, ranks: object, *, init: str = "decompose",
                  seed: Seed = 0) -> Tucker2Conv2d:
        """``FactorizedConv2d.from_conv(conv, "tucker2", ranks)``
        (:func:`lrconv.decompose.tucker2_decompose`)."""
        return FactorizedConv2d.from_conv(conv, "tucker2", ranks, seed=seed, init=init)

    @staticmethod
    def _ranks(rank: object) -> object:
        if isinstance(rank, (int, np.integer)) and not isinstance(rank, bool):
            return (rank, rank)
        return rank

    @classmethod
    def _decompose(cls, kernel: np.ndarray, rank: object, seed: Seed, **options: object
                   ) -> Tucker2Factors:
        return tucker2_decompose(kernel, cls._ranks(rank), **options)

    @classmethod
    def _random(cls, shape: tuple[int, ...], rank: object,
                rng: np.random.Generator) -> Tucker2Factors:
        ranks = cls._ranks(rank)
        if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
            raise TypeError(f"ranks must be a pair (R_out, R_in) of ints; received {rank!r}")
        ro, ri = (check_int(r, f"ranks[{i}]", 1) for i, r in enumerate(ranks))
        std = (_he_variance(shape) / (ro * ri)) ** (1 / 6)
        return Tucker2Factors(std * rng.standard_normal((ro, ri, *shape[2:])),
                              std * rng.standard_normal((shape[0], ro)),
                              std * rng.standard_normal((shape[1], ri)))

    _stages = staticmethod(tucker2_conv2d)


class SliceSVDConv2d(FactorizedConv2d, form="slice_svd"):
    """Every 2-D filter as a rank-``r`` product ``columns @ rows``, trainable (chapter 7).

    ``K = einsum('oihr,oirw->oihw', columns, rows)`` (:class:`lrconv.factors.SliceSVDFactors`);
    its stages have ``C_out C_in r`` intermediate channels, much slower in numpy than the
    rebuilt kernel the layer applies.
    """

    factor_type = SliceSVDFactors

    @classmethod
    def from_conv(cls, conv: Conv2d, rank: int, *, init: str = "decompose",
                  seed: Seed = 0) -> SliceSVDConv2d:
        """``FactorizedConv2d.from_conv(conv, "slice_svd", rank)``
        (:func:`lrconv.decompose.slice_svd_decompose`)."""
        return FactorizedConv2d.from_conv(conv, "slice_svd", rank, seed=seed, init=init)

    @classmethod
    def _decompose(cls, kernel: np.ndarray, rank: object, seed: Seed, **options: object
                   ) -> SliceSVDFactors:
        return slice_svd_decompose(kernel, rank, **options)

    @classmethod
    def _random(cls, shape: tuple[int, ...], rank: object,
                rng: np.random.Generator) -> SliceSVDFactors:
        r = check_int(rank, "rank", 1)
        std = (_he_variance(shape) / r) ** 0.25
        c_out, c_in, kh, kw = shape
        return SliceSVDFactors(std * rng.standard_normal((c_out, c_in, kh, r)),
                               std * rng.standard_normal((c_out, c_in, r, kw)))

    _stages = staticmethod(slice_svd_conv2d)


class UpdateConv2d(FactorizedConv2d):
    """A frozen convolution plus a trainable low-rank update: ``K = K0 + scale * Delta K``.

    The base of :class:`lrconv.lora.LoConConv2d` and :class:`lrconv.lora.CPUpdateConv2d`
    (chapter 8): ``Delta K`` is the kernel of the update's factors, ``params()`` holds only the
    factors (and the bias with ``train_bias``), and :meth:`merged` gives the plain layer.

    Parameters
    ----------
    base : lrconv.nn.Conv2d
        The pretrained layer: its kernel, bias, stride, padding and type are copied and frozen.
    factors : the factor type of the subclass, fitting the base kernel's shape
    scale : float
        Multiplies the update (LoRA's ``alpha / r``).
    train_bias : bool
        Train the bias too.
    """

    def __init__(self, base: Conv2d, factors: object, *, scale: float = 1.0,
                 train_bias: bool = False) -> None:
        check_type(base, Conv2d, "base", "a lrconv.nn.Conv2d")
        self.scale = check_float(scale, "scale")
        check_type(train_bias, (bool, np.bool_), "train_bias", "True or False")
        super().__init__(factors, base.bias, stride=base.stride, padding=base.padding,
                         dtype=base.dtype)
        self.base_kernel = np.array(base.kernel(), dtype=base.dtype)
        if self._factors.shape != self.base_kernel.shape:
            raise ValueError(f"factors must describe a kernel of the base's shape "
                             f"{self.base_kernel.shape}; received factors of shape "
                             f"{self._factors.shape}")
        self.train_bias = bool(train_bias)
        self._bias = self._params["bias"] if self.train_bias else self._params.pop("bias")

    @classmethod
    def from_conv(cls, base: Conv2d, rank: int, *, seed: Seed = 0, scale: float = 1.0,
                  train_bias: bool = False) -> UpdateConv2d:
        """Start an update of ``base`` whose output-side factor is zero (so the adapted layer
        starts exactly at ``base``); the other factors are random, drawn from ``seed``."""
        return FactorizedConv2d.from_conv(base, cls.form, rank, seed=seed, scale=scale,
                                          train_bias=train_bias)

    @classmethod
    def _from_conv(cls, conv: Conv2d, rank: object, *, seed: Seed = 0, scale: float = 1.0,
                   train_bias: bool = False) -> UpdateConv2d:
        r = check_int(rank, "rank", 1)
        shape = conv.kernel().shape
        check_size((r, max(shape[0], shape[1] * shape[2] * shape[3])), "the update's factors")
        factors = cls._start(shape, r, as_generator(seed, "seed"))
        return cls._build(conv, factors, scale=scale, train_bias=train_bias)

    @classmethod
    def _build(cls, base: Conv2d, factors: tuple, **kwargs: object) -> UpdateConv2d:
        return cls(base, factors, **kwargs)

    @classmethod
    def _start(cls, shape: tuple[int, ...], rank: int, rng: np.random.Generator) -> tuple:
        raise NotImplementedError

    @property
    def bias(self) -> np.ndarray:
        return self._bias

    @property
    def rank(self) -> int:
        return int(self._factors.rank)

    def delta(self) -> np.ndarray:
        """The update ``Delta K = scale * (kernel of the factors)``, the base kernel's shape."""
        return self.scale * self._factors.to_kernel()

    def kernel(self) -> np.ndarray:
        """The kernel the layer applies: ``K0 + Delta K``."""
        return self.base_kernel + self.delta()

    def _param_grads(self, grad_kernel: np.ndarray, grad_bias: np.ndarray) -> dict:
        grads = self._factors.kernel_grads(grad_kernel)
        out = {n: self.scale * g for n, g in zip(grads._fields, grads, strict=True)}
        if self.train_bias:
            out["bias"] = grad_bias
        return out

    def _cast(self, dtype: np.dtype) -> None:
        super()._cast(dtype)
        self.base_kernel = self.base_kernel.astype(dtype)
        self._bias = self._params["bias"] if self.train_bias else self._bias.astype(dtype)

    def merged(self) -> Conv2d:
        """A plain :class:`~lrconv.nn.Conv2d` with kernel ``K0 + Delta K`` and the same bias."""
        return Conv2d(self.kernel(), self.bias, stride=self.stride, padding=self.padding)

    def run_stages(self, x: object) -> np.ndarray:
        """The output computed as the frozen convolution plus the update's own stages:
        ``conv2d(x, K0) + scale * stages(x) + b``."""
        xa = as_batch(x, "x", self.dtype, 4, "(N, C_in, H, W)")
        base = conv2d(xa, self.base_kernel, stride=self.stride, padding=self.padding)
        update = self._stages(xa, self._factors, stride=self.stride, padding=self.padding)
        return base + self.scale * update + self.bias[:, None, None]


def balance_cp(factors: CPFactors) -> CPFactors:
    """Rescale the columns of the four factors to equal norms, the kernel unchanged (chapter 7).

    Kept for chapter 7; the same as ``CPFactors(...).balanced()``.
    """
    check_type(factors, tuple, "factors", "CPFactors(out, inp, vertical, horizontal)")
    if len(factors) != 4:
        raise TypeError(f"factors must be CPFactors(out, inp, vertical, horizontal); received "
                        f"{len(factors)} arrays")
    return CPFactors(*factors).balanced()
