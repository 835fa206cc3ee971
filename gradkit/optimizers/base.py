"""The optimizer base class: one object with Keras 3's API and PyTorch's habits.

An optimizer updates parameters (``Variable``/``Tensor`` objects) in place from
their gradients. Two front ends drive the same update:

* Keras / TensorFlow: ``opt.apply_gradients(zip(grads, variables))`` with gradients
  from a ``GradientTape`` (arrays or Tensors; a ``None`` gradient skips its variable).
* PyTorch: construct with the parameters, then ``loss.backward(); opt.step();
  opt.zero_grad()``; ``step()`` uses each parameter's ``.grad``.

Each update, in order (Keras 3's order):

1. The learning rate is read: a float, or ``schedule(iterations)``.
2. Gradients are cast to the parameter's dtype and clipped (``clipvalue``,
   ``clipnorm`` or ``global_clipnorm``) into private buffers: the caller's arrays are
   never modified.
   With ``maximize=True`` the gradient is negated first (PyTorch's ``maximize``).
3. Weight decay: decoupled (Keras, the default) ``p <- p * (1 - lr * weight_decay)``,
   or, with ``decoupled_weight_decay=False``, PyTorch's L2 form ``g <- g + wd * p``.
4. The optimizer's own rule (see each class), written into ``p``'s array in place.
5. ``p._version`` is bumped and ``iterations`` grows by one.

Hyper-parameters come from a *group*: ``_hyper(group)`` returns an object whose
attributes are the rule's hyper-parameters. Here it is the optimizer itself (one
group, Keras's way); :mod:`gradkit.optim` overrides it to read PyTorch's
``param_groups`` dicts, so per-group options run through this same pipeline.
Rules written the PyTorch way (``rule="pytorch"``) count steps per parameter
(``_per_parameter_steps``), as PyTorch's ``state["step"]``; Keras's count
``iterations``.

A subclass states its rule and nothing else: ``_slot_names(hp)`` (its per-parameter
state, created lazily as ``xp.zeros_like(p)`` on the parameter's first update),
``_coefficients(lr, step, hp)`` (this step's Python floats, the kernel's switches
included) and ``_kernel`` (the elementwise rule, in place through ``out=``: updates
allocate nothing per step; :func:`moving_average` is the running average several
rules keep).
Its constructor validates its hyper-parameters before anything else, as
PyTorch's optimizers do. How the kernel is spread over threads for large
parameters is :mod:`gradkit._parallel`'s business; results are bitwise the same.
"""

from __future__ import annotations

import numbers

import numpy as np

from gradkit._parallel import ParallelRunner
from gradkit.backend import get_array_module, is_array, is_device_array, to_numpy
from gradkit.devices import DeviceError, as_device, device_of, place
from gradkit.gpu_kernels import elementwise
from gradkit.optimizers import fused as _fused
from gradkit.optimizers import schedules as _schedules
from gradkit.optimizers.clipping import (
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    global_norm,
)
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_number

__all__ = ["Optimizer", "moving_average", "root_plus_epsilon"]


def moving_average(xp, avg, x, decay, one_minus_decay, tmp):
    """``avg <- decay * avg + (1 - decay) * x``, in place; ``tmp`` is scratch (it may be ``x``).

    The exponential moving average Adam, Nadam and RMSprop keep of the gradient and
    of its square, inside their kernels; ``one_minus_decay`` comes precomputed with
    the step's coefficients.
    """
    xp.multiply(avg, decay, out=avg)            # avg <- decay avg
    xp.multiply(x, one_minus_decay, out=tmp)    # tmp = (1 - decay) x
    xp.add(avg, tmp, out=avg)                   # avg <- decay avg + (1 - decay) x


def root_plus_epsilon(xp, x, eps, outside, out):
    """``out = sqrt(x) + eps`` (``outside``: PyTorch's) or ``sqrt(x + eps)`` (Keras's).

    The denominator of Adagrad and RMSprop; ``out`` may be ``x``.
    """
    if outside:
        xp.sqrt(x, out=out)
        xp.add(out, eps, out=out)
    else:
        xp.add(x, eps, out=out)
        xp.sqrt(out, out=out)


def _is_schedule(x):
    return isinstance(x, _schedules.LearningRateSchedule) or (
        callable(x) and not isinstance(x, (Tensor, type)) and not is_array(x))


class _Rec:
    """Per-parameter bookkeeping: the parameter, its state and scratch buffers."""

    __slots__ = ("param", "index", "group", "steps", "arr", "names", "slots", "scratch",
                 "gbuf", "decay")

    def __init__(self, param, index, group=0):
        self.param = param
        self.index = index
        self.group = group          # index of its parameter group (0: Keras's single group)
        self.steps = 0              # updates applied to this parameter
        self.arr = param._data      # the array the buffers below were made for
        self.names = ()             # the names of ``slots``
        self.slots = None           # list of state arrays, created on first update
        self.scratch = None         # list of scratch arrays (not saved)
        self.gbuf = None            # private gradient buffer (cast / clip / L2)
        self.decay = True           # takes part in weight decay


class Optimizer:
    """Base class of all gradkit optimizers.

    Args:
        params: PyTorch style: an iterable of the Variables/Tensors to optimize (for
            :meth:`step` and :meth:`zero_grad`). Keras style: leave it out, or pass
            the learning rate here (``SGD(0.01)``).
        learning_rate: a float >= 0, a :class:`~gradkit.optimizers.schedules.LearningRateSchedule`
            (called with ``iterations`` before each update), or a callable with no
            arguments returning the rate. Each optimizer has its own default
            (Keras 3's). ``lr=`` is accepted as an alias.
        weight_decay: ``None``/0 for none, else the decay rate (>= 0).
        decoupled_weight_decay: ``True`` (Keras, default): ``p <- p * (1 - lr * wd)``
            before the update; ``False``: PyTorch's L2 penalty ``g <- g + wd * p``.
        clipnorm: clip each gradient to this L2 norm (Keras's ``clipnorm``).
        clipvalue: clip each gradient elementwise to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping options may be set.
        maximize: maximize the objective instead (the gradient is negated), as
            PyTorch's ``maximize``; default False.
        name: a label (default: the class name in lower case).
        **aliases: PyTorch spellings (``lr``, ``eps``, ``betas``, ``alpha``).

    Attributes:
        iterations: the number of updates applied so far (an int, as Keras's
            ``optimizer.iterations``).
        learning_rate: the current learning rate (reading evaluates a schedule at
            ``iterations``); assign a float or a schedule to change it. Also ``lr``.

    Example::

        # PyTorch style
        opt = gradkit.optimizers.Adam(model.parameters(), lr=1e-3)
        loss.backward(); opt.step(); opt.zero_grad()

        # Keras style
        opt = gradkit.optimizers.Adam(learning_rate=1e-3)
        with gradkit.GradientTape() as tape:
            loss = loss_fn(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    _default_learning_rate = 0.001
    _scratch_count = 1               # scratch buffers the update rule needs
    _per_parameter_steps = False     # step = iterations + 1 (Keras) or per parameter (PyTorch)

    # ------------------------------------------------------------- construction
    def __init__(self, params=None, learning_rate=None, *, weight_decay=None,
                 decoupled_weight_decay=True, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, maximize=False, name=None, **aliases):
        cls = type(self).__name__
        if "lr" in aliases:
            if learning_rate is not None:
                raise TypeError(f"{cls}: got both lr={aliases['lr']!r} and "
                                f"learning_rate={learning_rate!r}; pass one")
            learning_rate = aliases.pop("lr")
        if isinstance(params, (numbers.Real, _schedules.LearningRateSchedule)):
            if learning_rate is not None:
                raise TypeError(
                    f"{cls}: the first argument {params!r} was taken as the learning rate, "
                    f"and a learning rate {learning_rate!r} was given as well. Pass the "
                    "other hyper-parameters by keyword, e.g. SGD(0.01, momentum=0.9)")
            params, learning_rate = None, params
        if aliases:
            names = ", ".join(sorted(aliases))
            raise TypeError(f"{cls}: unexpected keyword argument(s) {names}")

        self.name = name if name is not None else cls.lower()
        self._params = None if params is None else self._check_params(params)
        self._learning_rate = self._check_learning_rate(
            self._default_learning_rate if learning_rate is None else learning_rate)
        self.weight_decay = self._optional(weight_decay, "weight_decay")
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self.maximize = bool(maximize)
        self.clipnorm = self._optional(clipnorm, "clipnorm", positive=True)
        self.clipvalue = self._optional(clipvalue, "clipvalue", positive=True)
        self.global_clipnorm = self._optional(global_clipnorm, "global_clipnorm", positive=True)
        given = [k for k in ("clipnorm", "clipvalue", "global_clipnorm")
                 if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"{cls}: only one of clipnorm, clipvalue and global_clipnorm can "
                             f"be set, got {', '.join(given)}")
        self.iterations = 0
        self._runner = ParallelRunner()  # spreads _kernel over threads for large parameters
        self._recs = {}              # id(param) -> _Rec
        self._order = []             # _Rec in registration order (= state_dict index)
        self._pending = {}           # index -> slot dict loaded before the param was seen
        self._pending_steps = {}     # index -> its step count, for _pending
        self._exclude_ids = set()
        self._exclude_names = ()
        self._gradient_hooks = []    # fn(grads, params) before each update (TensorBoard...)
        self._gradient_reducer = None  # fn(grads, params) -> grads: data-parallel averaging
        if self._params is not None:
            for p in self._params:
                self._register(p)

    def _alias(self, aliases, alias, canonical, value, default):
        """Resolve a PyTorch spelling (``eps`` for ``epsilon``) popped from ``aliases``."""
        if alias not in aliases:
            return value
        if value != default:
            raise TypeError(f"{type(self).__name__}: got both {alias}={aliases[alias]!r} and "
                            f"{canonical}={value!r}; pass one")
        return aliases.pop(alias)

    def _check_params(self, params):
        cls = type(self).__name__
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{cls}: params must be an iterable of Variables/Tensors or a "
                            f"learning rate, got {type(params).__name__}")
        # named parameters, ("name", tensor) pairs, as torch accepts them
        params = [p[1] if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) else p
                  for p in params]
        if not params:
            raise ValueError(f"{cls}: got an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if isinstance(p, dict):
                raise TypeError(f"{cls}: parameter groups (dicts) are not supported; pass "
                                "one list of parameters (make one optimizer per group)")
            if not isinstance(p, Tensor):
                raise TypeError(f"{cls}: parameter {i} is a {type(p).__name__}, expected a "
                                "gradkit Variable or Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{cls}: parameter {i} has dtype {p.dtype}; only "
                                "floating-point tensors can be optimized")
            if id(p) in seen:
                raise ValueError(f"{cls}: parameter {i} appears more than once")
            seen.add(id(p))
        return params

    def _check_learning_rate(self, lr):
        cls = type(self).__name__
        if _is_schedule(lr):
            return lr
        try:
            return check_number(cls, "learning_rate", lr, minimum=0)
        except TypeError:
            raise TypeError(f"{cls}: learning_rate must be a float >= 0, a "
                            f"LearningRateSchedule or a callable, received {lr!r}") from None

    def _optional(self, value, name, positive=False):
        """``None``, or a finite float >= 0 (> 0 with ``positive``)."""
        if value is None:
            return None
        return check_number(type(self).__name__, name, value, minimum=0, min_open=positive)

    # ------------------------------------------------------------- learning rate
    @property
    def learning_rate(self):
        """The learning rate for the next update (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = self._check_learning_rate(value)

    lr = learning_rate

    # ------------------------------------------------------------- parameters
    def _register(self, p, group=0):
        rec = self._recs.get(id(p))
        if rec is None:
            rec = _Rec(p, len(self._order), group)
            self._recs[id(p)] = rec
            self._order.append(rec)
            rec.decay = id(p) not in self._exclude_ids and not any(
                s in (p.name or "") for s in self._exclude_names)
        return rec

    def build(self, var_list):
        """Register ``var_list`` (in order: their state_dict indices) and create their state.

        Called automatically on the first update; call it yourself to create the
        state up front (e.g. before :meth:`load_state_dict` in Keras style).
        """
        for p in self._check_params(var_list):
            self._ensure_state(self._register(p))

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Leave some variables out of weight decay (Keras's method).

        Args:
            var_list: variables to exclude.
            var_names: strings; a variable whose ``name`` contains one is excluded.
        """
        self._exclude_ids = {id(v) for v in (var_list or ())}
        self._exclude_names = tuple(var_names or ())
        for rec in self._order:
            p = rec.param
            rec.decay = id(p) not in self._exclude_ids and not any(
                s in (p.name or "") for s in self._exclude_names)

    @property
    def params(self):
        """The parameters given at construction (PyTorch style), or ``[]``."""
        return list(self._params or ())

    @property
    def param_groups(self):
        """PyTorch's ``param_groups``: one group, a live view of this optimizer.

        ``opt.param_groups[0]["lr"] = 0.01`` sets the learning rate; the other keys
        are the ``get_config()`` entries (read-only) and ``"params"``.
        """
        return [_ParamGroup(self)]

    # ------------------------------------------------------------- state
    def _hyper(self, group):
        """The hyper-parameters of parameter group ``group`` (attributes): here, ``self``."""
        return self

    def _slot_names(self, hp):
        """Names of the per-parameter state arrays, given the hyper-parameters ``hp``."""
        return ()

    def _init_slot(self, name, arr, xp, hp):
        return xp.zeros_like(arr)

    def _ensure_state(self, rec, hp=None, names=None):
        p = rec.param
        arr = p._data
        if hp is None:
            hp = self._hyper(rec.group)
            names = self._slot_names(hp)
        if rec.slots is not None and names != rec.names:
            raise ValueError(
                f"{type(self).__name__}: parameter {rec.index} has state {list(rec.names)} but "
                f"its options now need {list(names)} (an option such as momentum or amsgrad "
                "was switched on or off after the first step); make a new optimizer")
        if rec.slots is not None and rec.arr is arr:
            return
        xp = get_array_module(arr)
        if rec.slots is not None and rec.arr is not arr:
            # The parameter's array was replaced (p.data = ..., .to(device)): keep the state
            # if it fits, on the parameter's device.
            if rec.arr.shape != arr.shape or rec.arr.dtype != arr.dtype:
                raise ValueError(
                    f"{type(self).__name__}: parameter {rec.index} changed from "
                    f"{rec.arr.shape} {rec.arr.dtype} to {arr.shape} {arr.dtype} after the "
                    "optimizer created its state; make a new optimizer")
            self._move(rec, device_of(arr))
            return
        rec.arr = arr
        rec.names = names
        pending = self._pending.pop(rec.index, None)
        if pending is not None:
            self._check_loaded(rec.index, pending, arr.shape, names)
            rec.slots = [xp.asarray(pending[n], dtype=arr.dtype).copy() for n in names]
            rec.steps = self._pending_steps.pop(rec.index, self.iterations)
        else:
            rec.slots = [self._init_slot(n, arr, xp, hp) for n in names]
        rec.scratch = [xp.empty_like(arr) for _ in range(self._scratch_count)]

    def _move(self, rec, dev):
        """Put ``rec``'s state and buffers on ``dev`` (where its parameter now lives)."""
        rec.slots = [place(a, dev) for a in rec.slots]
        rec.scratch = [place(a, dev) for a in rec.scratch]
        rec.gbuf = None if rec.gbuf is None else place(rec.gbuf, dev)
        rec.arr = rec.param._data

    def to(self, device):
        """Move the optimizer's state to ``device`` (``Model.to`` calls it); returns self.

        Parameters moved by other means get their state moved on their next update.
        """
        dev = as_device(device)
        for rec in self._order:
            if rec.slots is not None:
                self._move(rec, dev)
        return self

    def _check_loaded(self, index, slots, shape=None, names=None):
        if names is None:
            group = self._order[index].group if index < len(self._order) else 0
            names = self._slot_names(self._hyper(group))
        if set(slots) != set(names):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: parameter {index} has state "
                f"{sorted(slots)}, this optimizer keeps {sorted(names)} (was the state saved "
                "by another optimizer or configuration?)")
        for n in names:
            got = tuple(getattr(slots[n], "shape", None) or np.shape(slots[n]))  # host: lists
            if shape is not None and got != tuple(shape):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state '{n}' of parameter {index} "
                    f"has shape {got}, the parameter {tuple(shape)}")

    def _extra_state(self):
        """Optimizer-wide state besides ``iterations`` (floats), for state_dict."""
        return {}

    def _set_extra_state(self, extra):
        pass

    def state_dict(self):
        """The optimizer's state as plain NumPy data (copies).

        Returns:
            ``{"iterations": int, "state": {index: {slot_name: ndarray}}, "extra": {...}}``
            where ``index`` is the parameter's position (construction order in PyTorch
            style, first-seen order in Keras style). Parameters not updated yet have no
            entry. :meth:`load_state_dict` restores it exactly, so training resumes
            bit-identically.
        """
        state = {}
        for rec in self._order:
            if rec.slots is not None:
                state[rec.index] = {n: to_numpy(a).copy() for n, a in zip(rec.names, rec.slots)}
        for i, slots in self._pending.items():
            state[i] = {n: np.array(a, copy=True) for n, a in slots.items()}  # host: loaded
        return {"iterations": int(self.iterations), "state": state,
                "extra": dict(self._extra_state())}

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s output (copied into existing state arrays in place).

        State for a parameter this optimizer has not seen yet (Keras style, before
        the first update) is kept and used when parameter ``index`` is registered.
        Parameters with saved state count ``iterations`` updates of their own
        (``rule="pytorch"`` counts steps per parameter). A state dict shaped like
        PyTorch's (``{"state": {i: {"step": ..., name: array}}, "param_groups": [...]}``,
        from :mod:`gradkit.optim`, e.g. through ``model.save``) is read too: its
        per-parameter ``step`` counts are kept.
        """
        cls = type(self).__name__
        if "iterations" not in state_dict and "param_groups" in state_dict:
            state_dict = self._from_torch_layout(state_dict)
        try:
            iterations = int(state_dict["iterations"])
            state = {int(i): dict(s) for i, s in state_dict["state"].items()}
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise ValueError(f"{cls}.load_state_dict: expected a dict from state_dict(), with "
                             f"'iterations' and 'state' ({e!r})") from None
        for i, slots in state.items():
            shape = self._order[i].param.shape if i < len(self._order) else None
            self._check_loaded(i, slots, shape)
        self._pending = {}
        steps = state_dict.get("steps", {})
        self._pending_steps = dict(steps)
        for i, slots in state.items():
            rec = self._order[i] if i < len(self._order) else None
            if rec is not None and rec.slots is not None and rec.arr is rec.param._data:
                xp = get_array_module(rec.arr)
                for n, dst in zip(rec.names, rec.slots):
                    dst[...] = xp.asarray(slots[n])
            else:
                self._pending[i] = {n: to_numpy(a).copy() for n, a in slots.items()}
                if rec is not None:
                    rec.slots = None
                    self._ensure_state(rec)
        for rec in self._order:   # parameters without saved state start afresh
            rec.steps = steps.get(rec.index, iterations) if rec.index in state else 0
            if rec.index not in state:
                rec.slots = None
        self.iterations = iterations
        self._set_extra_state(dict(state_dict.get("extra", {})))

    @staticmethod
    def _from_torch_layout(state_dict):
        """PyTorch's state-dict layout as :meth:`load_state_dict` reads it (one group's worth).

        ``step`` entries become per-parameter step counts (a state without one, as
        PyTorch's SGD keeps, counts as stepped once); ``iterations`` is the largest.
        """
        if len(state_dict["param_groups"]) > 1:
            raise NotImplementedError(
                "load_state_dict: a state with several parameter groups needs a "
                "gradkit.optim optimizer with the same groups, not a Keras-style one")
        state, steps = {}, {}
        for i, entry in dict(state_dict["state"]).items():
            entry = dict(entry)
            step = entry.pop("step", None)
            steps[int(i)] = 1 if step is None else int(float(step))
            state[int(i)] = entry
        return {"iterations": max(steps.values(), default=0), "state": state, "steps": steps}

    def variables(self):
        """The optimizer's variables, Keras-style: ``[iterations, *state arrays]``.

        The first entry is a 0-d int64 array holding ``iterations`` (a copy); the rest
        are the live state arrays, parameter by parameter, slot by slot.
        """
        out = [np.asarray(self.iterations, dtype=np.int64)]  # host: a counter
        for rec in self._order:
            if rec.slots is not None:
                out.extend(rec.slots)
        return out

    # ------------------------------------------------------------- config
    def get_config(self):
        """The constructor arguments as a dict (``from_config`` rebuilds the optimizer)."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "decoupled_weight_decay": self.decoupled_weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm,
                **({"maximize": True} if self.maximize else {})}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new optimizer (without state) from :meth:`get_config`'s dict."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"],
                                                             custom_objects)
        return cls(**config)

    def __repr__(self):
        lr = self._learning_rate
        lr = lr if isinstance(lr, float) else type(lr).__name__
        return f"<{type(self).__name__} '{self.name}' learning_rate={lr} iterations=" \
               f"{self.iterations}>"

    # ------------------------------------------------------------- front ends
    def apply_gradients(self, grads_and_vars):
        """Apply one update from ``(gradient, variable)`` pairs (Keras / TensorFlow).

        Args:
            grads_and_vars: iterable of pairs; a gradient may be a Tensor, an array
                or ``None`` (that variable is skipped this step).

        Returns:
            ``iterations`` after the update.
        """
        grads, params = [], []
        for pair in grads_and_vars:
            try:
                g, p = pair
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}.apply_gradients expects (gradient, "
                                f"variable) pairs, got {pair!r}") from None
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}.apply_gradients: the variable of a pair "
                                f"is a {type(p).__name__}, expected a gradkit Variable/Tensor")
            if id(p) not in self._recs:     # indices follow the variable list, as Keras's build
                if p.dtype.kind != "f":
                    raise TypeError(f"{type(self).__name__}: cannot optimize a tensor of "
                                    f"dtype {p.dtype}")
                self._register(p)
            if g is None:
                continue
            grads.append(g)
            params.append(p)
        if not params:
            raise ValueError(f"{type(self).__name__}.apply_gradients: no gradients provided "
                             "for any variable (all None)")
        self._apply(grads, params)
        return self.iterations

    def apply(self, grads, trainable_variables):
        """Keras 3's ``apply(grads, trainable_variables)``: ``apply_gradients(zip(...))``."""
        return self.apply_gradients(zip(grads, trainable_variables))

    def step(self, closure=None):
        """Apply one update to the construction parameters from their ``.grad`` (PyTorch).

        Parameters whose ``.grad`` is ``None`` are skipped; when none has a gradient
        nothing happens (``iterations`` does not advance).

        Args:
            closure: optional callable that recomputes and returns the loss (it runs
                before the update, with gradient recording on; its value is returned).
        """
        if self._params is None:
            raise RuntimeError(f"{type(self).__name__}.step() needs the parameters at "
                               "construction (PyTorch style: Adam(model.parameters())); in "
                               "Keras style call apply_gradients(zip(grads, variables))")
        loss = None
        if closure is not None:
            from gradkit.autograd import enable_grad

            with enable_grad():            # the closure records, even under no_grad()
                loss = closure()
        grads, params = [], []
        for p in self._params:
            if p.grad is not None:
                grads.append(p.grad)
                params.append(p)
        if params:
            self._apply(grads, params)
        return loss

    def zero_grad(self, set_to_none=True):
        """Forget the construction parameters' gradients (``.grad = None``, or zero-fill)."""
        for p in self._params or ():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._data[...] = 0
                p.grad._version += 1

    def minimize(self, loss, var_list, tape=None):
        """Compute gradients of ``loss`` (a zero-argument callable) and apply them.

        Args:
            loss: a callable returning the scalar loss Tensor, or the loss Tensor
                itself when ``tape`` (the ``GradientTape`` that recorded it) is given.
            var_list: the variables to update.

        Returns:
            The loss value.
        """
        from gradkit.autograd import GradientTape

        var_list = list(var_list)
        if tape is None:
            if not callable(loss):
                raise TypeError(f"{type(self).__name__}.minimize: loss must be a callable "
                                "when no tape is given")
            with GradientTape() as tape:
                value = loss()
        else:
            value = loss
        grads = tape.gradient(value, var_list)
        self.apply_gradients(zip(grads, var_list))
        return value

    # ------------------------------------------------------------- the update
    def _begin_step(self, step):
        """Optimizer-wide bookkeeping once per update (``step`` = iterations + 1)."""

    def _coefficients(self, lr, step, hp):
        """What the update rule needs this step (Python floats and switches), from the
        learning rate, the step number (1 on the first update) and the hyper-parameters."""
        return lr

    def _kernel(self, c, p, g, slots, scratch):
        """The update rule, in place on ``p`` and its state; elementwise (it may get chunks)."""
        raise NotImplementedError

    def _gradient_array(self, rec, g):
        """The gradient as an array of the parameter's shape and dtype (maybe our buffer)."""
        arr = rec.arr
        if isinstance(g, Tensor):
            g = g._data
        if type(g) is type(arr) and g.shape == arr.shape and g.dtype == arr.dtype:
            return g  # the usual case (a backward pass's gradient): nothing to convert
        if not is_array(g) or type(g) is not type(arr) and not is_device_array(g):
            g = place(g, device_of(arr))  # host data given as a gradient: to the parameter
        if type(g) is not type(arr):
            raise DeviceError(f"{type(self).__name__}: gradient on {device_of(g)} for "
                              f"parameter {rec.index}{self._label(rec)} on {device_of(arr)}; "
                              "move the gradient (or the parameter) first")
        if g.shape != arr.shape:
            raise ValueError(
                f"{type(self).__name__}: gradient of shape {g.shape} for parameter "
                f"{rec.index}{self._label(rec)} of shape {arr.shape}")
        if g.dtype != arr.dtype:
            buf = self._gbuf(rec)
            buf[...] = g
            return buf
        return g

    @staticmethod
    def _label(rec):
        return f" ('{rec.param.name}')" if rec.param.name else ""

    @staticmethod
    def _gbuf(rec):
        if rec.gbuf is None:
            rec.gbuf = get_array_module(rec.arr).empty_like(rec.arr)
        return rec.gbuf

    def _clip(self, recs, garrs):
        """Clip the step's gradients into the private buffers (never the caller's arrays).

        A norm clip that would change nothing (norm <= limit) is skipped.
        """
        if self.clipvalue is not None:
            v = self.clipvalue
            for i, rec in enumerate(recs):
                garrs[i] = clip_by_value(garrs[i], -v, v, out=self._gbuf(rec))
        elif self.clipnorm is not None:
            c = self.clipnorm
            for i, rec in enumerate(recs):
                norm = global_norm([garrs[i]])
                if not norm <= c:
                    garrs[i] = clip_by_norm(garrs[i], c, use_norm=norm, out=self._gbuf(rec))
        else:
            c = self.global_clipnorm
            norm = global_norm(garrs)
            if not norm <= c:
                garrs[:] = clip_by_global_norm(garrs, c, use_norm=norm,
                                               out=[self._gbuf(rec) for rec in recs])[0]

    def register_gradient_hook(self, fn):
        """Call ``fn(grads, params)`` with each update's gradients before they are applied.

        ``grads`` are as given (arrays or Tensors, not yet clipped); ``fn`` must not modify
        them. Returns a handle whose ``remove()`` unregisters ``fn`` (PyTorch's hook style).

        Example::

            seen = {}
            handle = opt.register_gradient_hook(
                lambda grads, params: seen.update(zip(map(id, params), grads)))
            ...
            handle.remove()
        """
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.register_gradient_hook: expected a callable "
                            f"fn(grads, params), received {fn!r}")
        hooks = self._gradient_hooks
        hooks.append(fn)

        class _Handle:
            def remove(self):
                if fn in hooks:
                    hooks.remove(fn)
        return _Handle()

    def set_gradient_reducer(self, fn):
        """Combine each update's gradients with ``fn(grads, params) -> grads`` first.

        ``gradkit.distributed`` sets one during a data-parallel ``fit`` (the allreduce
        across ranks), so that clipping, weight decay and the rule see the combined
        gradient, custom ``train_step`` methods included. One reducer at a time; returns a
        handle whose ``remove()`` unsets it.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"{type(self).__name__}.set_gradient_reducer: expected a callable "
                            f"fn(grads, params) -> grads, received {fn!r}")
        if fn is not None and self._gradient_reducer is not None:
            raise RuntimeError(f"{type(self).__name__}: a gradient reducer is already set "
                               "(is this optimizer used by two data-parallel fits at once?)")
        self._gradient_reducer = fn
        opt = self

        class _Handle:
            def remove(self):
                if opt._gradient_reducer is fn:
                    opt._gradient_reducer = None
        return _Handle()

    def _apply(self, grads, params):
        if self._gradient_reducer is not None:
            grads = self._gradient_reducer(grads, params)
        for hook in self._gradient_hooks:
            hook(grads, params)
        groups = {}                  # group index -> (hp, slot names, [positions])
        recs = []
        garrs = []
        all_recs = self._recs
        for i, (p, g) in enumerate(zip(params, grads)):
            rec = all_recs[id(p)]
            entry = groups.get(rec.group)
            if entry is None:
                hp = self._hyper(rec.group)
                entry = groups[rec.group] = (hp, self._slot_names(hp), [])
            # state made for this very array with these slots: nothing to create or check
            if rec.slots is None or rec.arr is not p._data or rec.names != entry[1]:
                self._ensure_state(rec, entry[0], entry[1])
            entry[2].append(i)
            recs.append(rec)
            garrs.append(self._gradient_array(rec, g))

        lrs = {gi: hp.learning_rate for gi, (hp, _, _) in groups.items()}
        for hp, _, members in groups.values():
            if hp.maximize:
                for i in members:                              # g <- -g
                    rec = recs[i]
                    garrs[i] = get_array_module(rec.arr).negative(garrs[i],
                                                                  out=self._gbuf(rec))
        if self.clipvalue is not None or self.clipnorm is not None or \
                self.global_clipnorm is not None:
            self._clip(recs, garrs)
        self._begin_step(self.iterations + 1)
        for gi, (hp, _, members) in groups.items():
            lr = lrs[gi]
            if hp.weight_decay:
                self._weight_decay(hp, lr, [recs[i] for i in members], garrs, members)
            if self._per_parameter_steps:
                buckets = {}                                   # step -> positions
                for i in members:
                    buckets.setdefault(recs[i].steps + 1, []).append(i)
            else:
                buckets = {self.iterations + 1: members}       # one step count for all
            for step, idx in buckets.items():
                c = self._coefficients(lr, step, hp)
                if len(idx) == len(recs):  # all of this update's parameters, in order
                    self._run(c, recs, garrs)
                else:
                    self._run(c, [recs[i] for i in idx], [garrs[i] for i in idx])
        for rec in recs:
            rec.steps += 1
            rec.param._version += 1
        self.iterations += 1

    def _weight_decay(self, hp, lr, recs, garrs, positions):
        """Decoupled ``p <- p (1 - lr wd)``, or L2 ``g <- g + wd p`` into ``garrs``."""
        wd = hp.weight_decay
        if hp.decoupled_weight_decay:
            factor = 1.0 - lr * wd                             # p <- p (1 - lr wd)
            for rec in recs:
                if rec.decay:
                    arr = rec.arr
                    get_array_module(arr).multiply(arr, factor, out=arr)
            return
        for rec, i in zip(recs, positions):                    # g <- g + wd p
            if rec.decay:
                buf = self._gbuf(rec)
                g = garrs[i]
                xp = get_array_module(buf)
                if g is buf:
                    tmp = rec.scratch[0]
                    xp.multiply(rec.arr, wd, out=tmp)
                    buf += tmp
                else:
                    xp.multiply(rec.arr, wd, out=buf)
                    buf += g
                garrs[i] = buf

    def _fused_source(self):
        """The rule as one CUDA elementwise body for this configuration, or None.

        ``(in_params, out_params, body)`` for ``cupy.ElementwiseKernel``: inputs are the
        gradient then this step's coefficients (``_coefficients``' order), outputs the
        parameter then its slots. Used on CuPy arrays only (:mod:`gradkit.gpu_kernels`).
        """
        return None

    def _run(self, c, recs, garrs):
        if is_device_array(recs[0].arr):  # a GPU runs each kernel whole, no host threads
            src = self._fused_source()
            fused = src and elementwise(get_array_module(recs[0].arr),
                                        type(self).__name__.lower(), *src)
            for rec, g in zip(recs, garrs):
                if fused:
                    fused(g, *c, rec.arr, *rec.slots)   # one kernel: the whole rule
                else:
                    self._kernel(c, rec.arr, g, rec.slots, rec.scratch)
            return
        # the rule's fused loop when gradkit[fast] is installed, else its NumPy kernel
        self._runner.run(_fused.kernel_for(self), c,
                         [(rec.index, rec.arr, g, rec.slots, rec.scratch)
                          for rec, g in zip(recs, garrs)])


class _ParamGroup:
    """A dict-like view of an optimizer for PyTorch habits (``group["lr"]``)."""

    __slots__ = ("_opt",)

    def __init__(self, opt):
        self._opt = opt

    def _as_dict(self):
        d = self._opt.get_config()
        d["lr"] = self._opt.learning_rate
        d["params"] = self._opt.params
        return d

    def __getitem__(self, key):
        return self._as_dict()[key]

    def __setitem__(self, key, value):
        if key not in ("lr", "learning_rate"):
            raise KeyError(f"param_groups: only 'lr' can be set, not {key!r}; make a new "
                           "optimizer to change other hyper-parameters")
        self._opt.learning_rate = value

    def __contains__(self, key):
        return key in self._as_dict()

    def keys(self):
        return self._as_dict().keys()

    def get(self, key, default=None):
        return self._as_dict().get(key, default)

    def __repr__(self):
        return repr(self._as_dict())
