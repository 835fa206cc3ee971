"""Fused update rules: each optimizer's step in one pass over the weights (``gradkit[fast]``).

The NumPy kernels (each optimizer's ``_kernel``) are the reference: they make one
pass over the parameter per ufunc, six to twelve a step. When numba is installed
(``pip install 'gradkit[fast]'``) the built-in rules run as single loops instead
(:mod:`gradkit.optimizers._fused_numba`), with the same ``kernel(c, p, g, slots,
scratch)`` contract, so the threaded runner and the rest of the update pipeline
(clipping, weight decay, ``_version``) are unchanged. Nothing is imported or
compiled before the first update; numba caches the machine code on disk.

An optimizer takes the fused path only when everything about it is known here: its
class is one of the built-ins below (not a subclass), every attribute it carries is
one this module handles (an option added later falls back to NumPy until a fused
loop covers it, see ``_NEUTRAL``), its arrays are contiguous float32/float64 NumPy
arrays and its coefficients have the expected length. Otherwise the NumPy kernel
runs. ``GRADKIT_FUSED=0`` in the environment, or :func:`set_enabled` (the switch
of :mod:`gradkit.accel`), turns the fused path off.

Example::

    gradkit.optimizers.fused.available()        # True when numba is installed
    gradkit.optimizers.fused.set_enabled(False) # NumPy kernels only
"""

from __future__ import annotations

import operator
import weakref

import numpy as np

from gradkit import accel
from gradkit.accel import available, enabled, set_enabled

__all__ = ["available", "enabled", "kernel_for", "set_enabled"]

# attributes every optimizer has (the update pipeline handles them before the kernel)
_BASE = frozenset({
    "_exclude_ids", "_exclude_names", "_gradient_hooks", "_gradient_reducer",
    "_learning_rate", "_order", "_params", "_pending", "_pending_steps",
    "_per_parameter_steps", "_recs", "_runner", "clipnorm",
    "clipvalue", "decoupled_weight_decay", "global_clipnorm", "iterations", "name",
    "weight_decay"})
# options that change nothing at these values (PyTorch's spellings); any other value,
# or any other attribute, sends the optimizer to its NumPy kernel
_NEUTRAL = {"maximize": False, "foreach": None, "capturable": False, "differentiable": False,
            "fused": None,
            # Keras's rules only (PyTorch's rules, chosen by rule="pytorch", keep NumPy);
            # dampening and lr_decay are PyTorch-rule options, inert at these values
            "rule": "keras", "dampening": 0.0, "lr_decay": 0.0}
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# elements per thread below which the threaded runner keeps a fused update on one thread:
# one pass over 400k float32 weights takes ~0.3 ms, the order of waking a busy machine's
# threads, so only larger parameters are split (and the threaded-vs-serial tuner, whose
# probes made fit's epochs swing, does not run for them)
FUSED_MIN_CHUNK = 1 << 19


def _loops():
    return accel.loops("gradkit.optimizers._fused_numba")


def _flat(a):
    return a.reshape(-1)      # a view: callers checked contiguity


# ----------------------------------------------------------------- one adapter a rule
# Each adapter checks the coefficient tuple's length and calls the loop with the
# scalars in the arrays' dtype (the NumPy kernels compute in that dtype too).
def _sgd(opt, loops):
    nesterov = bool(opt.nesterov)

    def kernel(c, p, g, slots, scratch):
        lr, mu = c[0], c[1]           # (lr, momentum, nesterov)
        t = p.dtype.type
        m = _flat(slots[0]) if slots else _flat(p)
        loops.sgd(_flat(p), _flat(g), m, t(lr), t(mu), bool(slots), nesterov)
    return kernel, 3


def _rmsprop(opt, loops):
    centered, use_momentum = bool(opt.centered), opt.momentum > 0

    def kernel(c, p, g, slots, scratch):
        lr, rho, one_m_rho, eps, mu = c[:5]  # then centered and the PyTorch-rule switch
        t = p.dtype.type
        fp = _flat(p)
        mom = _flat(slots[1]) if use_momentum else fp
        mg = _flat(slots[-1]) if centered else fp
        loops.rmsprop(fp, _flat(g), _flat(slots[0]), mom, mg, t(lr), t(rho), t(one_m_rho),
                      t(eps), t(mu), use_momentum, centered)
    return kernel, 7


def _adam(opt, loops):
    amsgrad = bool(opt.amsgrad)

    def kernel(c, p, g, slots, scratch):
        alpha, b1, one_m_b1, b2, one_m_b2, eps = c[:6]  # then the amsgrad switch
        t = p.dtype.type
        fp = _flat(p)
        vmax = _flat(slots[2]) if amsgrad else fp
        loops.adam(fp, _flat(g), _flat(slots[0]), _flat(slots[1]), vmax, t(alpha), t(b1),
                   t(one_m_b1), t(b2), t(one_m_b2), t(eps), amsgrad)
    return kernel, 7


def _nadam(opt, loops):
    def kernel(c, p, g, slots, scratch):
        t = p.dtype.type
        loops.nadam(_flat(p), _flat(g), _flat(slots[0]), _flat(slots[1]),
                    *(t(x) for x in c))
    return kernel, 8


def _adagrad(opt, loops):
    def kernel(c, p, g, slots, scratch):
        lr, eps = c[0], c[1]          # (lr, epsilon, PyTorch rule: False here)
        t = p.dtype.type
        loops.adagrad(_flat(p), _flat(g), _flat(slots[0]), t(lr), t(eps))
    return kernel, 3


def _rules():
    from gradkit.optimizers.adagrad import Adagrad
    from gradkit.optimizers.adam import Adam, AdamW
    from gradkit.optimizers.nadam import Nadam
    from gradkit.optimizers.rmsprop import RMSprop
    from gradkit.optimizers.sgd import SGD

    # class: (adapter, the attributes it handles, the size below which NumPy runs instead)
    # SGD's two to four NumPy passes cost less than a call into the loop on small arrays
    # (XOR's weights); the other rules' six to twelve passes do not
    return {
        SGD: (_sgd, ("momentum", "nesterov"), 1 << 12),
        RMSprop: (_rmsprop, ("rho", "momentum", "epsilon", "centered"), 0),
        Adam: (_adam, ("beta_1", "beta_2", "epsilon", "amsgrad"), 0),
        AdamW: (_adam, ("beta_1", "beta_2", "epsilon", "amsgrad"), 0),
        Nadam: (_nadam, ("beta_1", "beta_2", "epsilon", "_u_product"), 0),
        Adagrad: (_adagrad, ("epsilon", "initial_accumulator_value"), 0),
    }


_RULES = None


def _known(opt, names):
    for key, value in vars(opt).items():
        if key in _BASE or key in names:
            continue
        neutral = _NEUTRAL.get(key.lstrip("_"), _NEUTRAL)    # _NEUTRAL itself: unknown
        if neutral is _NEUTRAL or value != neutral:
            return False
    return True


def kernel_for(opt):
    """The kernel ``opt``'s update runs with this step: a fused loop, or ``opt._kernel``.

    Args:
        opt: an :class:`~gradkit.optimizers.base.Optimizer`.

    Returns:
        A callable ``kernel(c, p, g, slots, scratch)``. The fused one falls back to
        ``opt._kernel`` per call for arrays it does not handle (non-NumPy, not
        contiguous, not float32/float64, or smaller than the rule's ``small``
        size, where its NumPy passes are cheaper than a call into the loop) and
        for an unexpected coefficient tuple. The choice is cached per optimizer and
        made again when its attribute names or option values change.
    """
    global _RULES
    if not enabled() or _loops() is None:
        return opt._kernel
    if _RULES is None:
        _RULES = _rules()
    rule = _RULES.get(type(opt))
    if rule is None:
        return opt._kernel
    # the attribute names, the rule's option values and any neutral options' values
    d = vars(opt)
    cached = _built.get(opt)
    # checked every update, so kept cheap: the same parameter count and attribute names
    # (a set comparison, no tuple built) and the same values of the watched options
    if (cached is not None and cached[0] == len(opt._order) and d.keys() == cached[1]
            and cached[2](d) == cached[3]):
        return cached[4]
    watched = tuple(n for n in d if n in rule[1] and n[0] != "_" or n.lstrip("_") in _NEUTRAL)
    if not _known(opt, rule[1]) or max((r.arr.size for r in opt._order), default=0) < rule[2]:
        kernel = opt._kernel       # an unknown option, or every parameter small for the loop
    else:
        kernel = _build(opt, rule)
    # the watched values, read in one C call (a single name gives its value, not a tuple)
    values = operator.itemgetter(*watched) if watched else (lambda d: ())
    _built[opt] = (len(opt._order), frozenset(d), values, values(d), kernel)
    return kernel


# optimizer -> (parameter count, attribute names, watched values' getter, those values,
# kernel)
_built = weakref.WeakKeyDictionary()


def _build(opt, rule):
    make, _, small = rule
    fused, ncoef = make(opt, _loops())
    reference = opt._kernel

    def kernel(c, p, g, slots, scratch):
        if (p.size >= small and type(p) is np.ndarray and type(g) is np.ndarray
                and p.dtype in _DTYPES and g.dtype == p.dtype and p.flags.c_contiguous
                and g.flags.c_contiguous
                and all(type(s) is np.ndarray and s.dtype == p.dtype and s.flags.c_contiguous
                        for s in slots)
                and type(c) is tuple and len(c) == ncoef):
            fused(c, p, g, slots, scratch)
        else:
            reference(c, p, g, slots, scratch)
    kernel.fused = True
    kernel.min_chunk = FUSED_MIN_CHUNK
    return kernel
