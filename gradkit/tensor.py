"""``Tensor`` and ``Variable``: n-d arrays that remember how they were made.

A Tensor wraps one array (``.data``) of a backend (NumPy today). When it
requires grad and an op uses it under grad mode, the result keeps a link
(``_ctx``) to the :class:`~gradkit.autograd.function.Function` that made it;
``backward()`` walks those links. The graph only ever points from outputs to
inputs, so no reference cycle keeps activations alive.
"""

from __future__ import annotations

import itertools
import operator as _operator
import weakref

import numpy as np

from gradkit.backend import get_array_module, is_array, to_numpy
from gradkit.devices import CPU, Device, as_device, device_of, place
from gradkit.utils.validation import normalize_axis

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_default_float = float32
# Every tensor gets the next number: an op's output is always numbered after its
# inputs, so decreasing numbers are a valid order for the backward pass.
_creation_order = itertools.count()


def _to_array(data, dtype=None, device=None):
    """Convert user data into a backend array, float32 unless told otherwise.

    Host data (lists, scalars, NumPy arrays) goes to ``device``, by default the default
    device (``with gradkit.device(...)``, ``GRADKIT_DEVICE``); device arrays and Tensors
    stay where they are unless ``device`` is given.
    """
    host = False
    if isinstance(data, Tensor):
        arr = data._data
    elif is_array(data):
        arr = data
        host = type(arr) is np.ndarray
    elif isinstance(data, np.generic):
        arr, host = np.asarray(data), True  # host: a NumPy scalar keeps its dtype
    else:
        arr, host = np.asarray(data), True  # host: the caller's lists and numbers
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(_default_float)  # Python floats become float32
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
    if device is not None or host:
        dev = as_device(device)
        if device is not None or dev is not CPU:
            arr = place(arr, dev)
    kind = arr.dtype.kind
    if kind not in "fiub":
        what = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers",
                "M": "datetimes", "m": "timedeltas", "V": "raw records"}.get(kind, "this dtype")
        raise TypeError(
            f"Tensor cannot hold {what} (dtype {arr.dtype}); gradkit tensors hold real numbers "
            "(float, int or bool). Convert the data to numbers first, e.g. np.asarray(x, "
            "dtype='float32').")
    return arr


class _Size(int):
    """``x.size``: the number of elements (an int, as in NumPy) that, called, gives the
    shape (``x.size()``) or one axis length (``x.size(1)``), as in PyTorch."""

    def __new__(cls, n, shape):
        obj = super().__new__(cls, n)
        obj.shape = shape
        return obj

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[normalize_axis("size", dim, len(self.shape))]


class Tensor:
    """An n-d array with automatic differentiation.

    Args:
        data: array-like (NumPy array, nested lists, scalar, or a Tensor).
            Python floats become float32; NumPy arrays keep their dtype.
        dtype: optional dtype to cast to (``"float32"``, ``gradkit.float64``, ...).
        requires_grad: record operations on this tensor so ``backward()``
            can fill its ``.grad``. Only floating-point tensors can.
        name: optional label shown in errors and ``repr``.
        device: where the data lives (``"cpu"``, ``"cuda"``, ``"cuda:1"``); default:
            host data goes to the default device, device arrays stay where they are.

    Example::

        x = gradkit.Tensor([[1.0, 2.0]], requires_grad=True)
        y = (x ** 2).sum()
        y.backward()
        x.grad            # Tensor([[2., 4.]])
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_version", "_seq", "name",
                 "__weakref__",
                 "_keras_mask")  # keras-layers: a boolean mask riding on a layer output
    __array_priority__ = 1000  # above cupy.ndarray's 100: `array * tensor` is ours

    def __init__(self, data, dtype=None, requires_grad=False, name=None, device=None):
        self._data = _to_array(data, dtype, device)
        self.grad = None
        self._ctx = None
        self._version = 0
        self._seq = next(_creation_order)
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad, ctx):
        """Internal fast constructor: ``data`` is already a backend array."""
        t = object.__new__(Tensor)
        t._data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t._version = 0
        t._seq = next(_creation_order)
        t.name = None
        return t

    # ------------------------------------------------------------ basics
    @property
    def data(self):
        """The underlying array. Assigning to it counts as an in-place change."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = _to_array(value)
        self._version += 1

    def requires_grad_(self, flag=True):
        """Set ``requires_grad`` in place; only float tensors can require grad."""
        if flag and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype "
                f"{self._data.dtype}{self._label()}; cast first, e.g. x.astype('float32')")
        self.requires_grad = bool(flag)
        return self

    def _label(self):
        return f" (tensor '{self.name}')" if self.name else ""

    shape = property(lambda self: self._data.shape, doc="Tuple of axis lengths.")
    dtype = property(lambda self: self._data.dtype, doc="The NumPy dtype.")
    ndim = property(lambda self: self._data.ndim, doc="Number of axes.")
    size = property(lambda self: _Size(self._data.size, self._data.shape),
                    doc="Number of elements (NumPy); called, the shape (PyTorch's x.size()).")
    is_leaf = property(lambda self: self._ctx is None, doc="True unless an op made it.")

    @property
    def T(self):
        """Axes reversed (a differentiable transpose)."""
        return _ops.transpose(self)

    def numpy(self):
        """The value as a NumPy array: a copy to host memory from a GPU; on the CPU it
        shares memory (don't modify it)."""
        return to_numpy(self._data)

    # ---------------------------------------------------------- devices
    @property
    def device(self) -> Device:
        """The :class:`~gradkit.devices.Device` the data lives on."""
        return device_of(self._data)

    def to(self, device=None, dtype=None):
        """This tensor on ``device`` and/or as ``dtype`` (PyTorch's ``Tensor.to``).

        Differentiable: the gradient flows back to the original device and dtype.
        ``t.to("cuda")``, ``t.to("cpu", "float16")``, ``t.to(gradkit.float16)``.

        Args:
            device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a Device; None keeps it.
            dtype: a dtype to cast to; None keeps it.

        Returns:
            A Tensor (``self`` when nothing changes).
        """
        if device is not None and not isinstance(device, Device) and (
                not isinstance(device, str)
                or device.partition(":")[0].strip().lower() not in ("cpu", "cuda")):
            if dtype is not None:
                raise TypeError(f"Tensor.to: {device!r} is not a device name ('cpu', "
                                f"'cuda', 'cuda:N') and dtype={dtype!r} was given too")
            device, dtype = None, device  # t.to(float16): a dtype in the first place
        out = self
        if device is not None:
            out = _ops.to_device(out, device)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        return out

    def cpu(self):
        """This tensor on the CPU (``self`` when it is there already)."""
        return self.to("cpu")

    def cuda(self, device=None):
        """This tensor on a GPU: ``cuda:0``, or ``cuda:N`` for ``device=N``."""
        return self.to(Device("cuda", device) if isinstance(device, int) or device is None
                       else device)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        a = to_numpy(self._data)
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        return bool(self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self._data)

    def __format__(self, spec):
        if spec and self._data.size == 1:
            return format(self._data.item(), spec)  # f"{loss:.2f}" works on scalars
        return format(repr(self), spec)

    __hash__ = object.__hash__  # identity, as for PyTorch tensors and TF variables

    def __repr__(self):
        body = np.array2string(to_numpy(self._data), separator=", ", precision=4,  # host: print
                               prefix="Tensor(")
        extra = ""
        if self._data.dtype != _default_float:
            extra += f", dtype={self._data.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        if type(self._data) is not np.ndarray:
            extra += f", device='{self.device}'"
        if self.name:
            extra += f", name='{self.name}'"
        return f"Tensor({body}{extra})"

    # --------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            gradient: upstream gradient, needed when ``self`` is not a scalar.
            retain_graph: keep the graph for another backward pass.
            create_graph: make the gradients themselves differentiable
                (for higher-order derivatives); implies ``retain_graph``.
        """
        _engine.backward(self, gradient, retain_graph=retain_graph or create_graph,
                         create_graph=create_graph)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` each time ``backward()`` has finished accumulating this leaf's
        ``.grad`` (PyTorch's hook of the same name). Returns a handle with ``remove()``.

        Example::

            h = w.register_post_accumulate_grad_hook(lambda t: print(t.grad.shape))
            loss.backward()      # prints once w.grad is complete
            h.remove()
        """
        from gradkit.autograd import engine

        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook: expected a callable "
                            f"hook(tensor), received {hook!r}")
        if self._ctx is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors (weights, "
                               "inputs) accumulate a .grad; this tensor was computed by an op")
        key = id(self)
        hooks = engine.post_accumulate_hooks.setdefault(key, [])
        if not hooks:  # forget the entry when the tensor goes (ids are reused)
            weakref.finalize(self, engine.post_accumulate_hooks.pop, key, None)
        hooks.append(hook)

        class _Handle:
            def remove(self):
                if hook in hooks:
                    hooks.remove(hook)
                if not hooks:
                    engine.post_accumulate_hooks.pop(key, None)
        return _Handle()

    def detach(self):
        """The same data, cut from the graph (requires no grad)."""
        return Tensor._make(self._data, False, None)

    def zero_grad(self):
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def astype(self, dtype):
        """Cast to ``dtype`` (differentiable between float dtypes)."""
        return _ops.cast(self, dtype)

    # --------------------------------------------------------- operators
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.subtract(self, o)
    def __rsub__(self, o): return _ops.subtract(o, self)
    def __mul__(self, o): return _ops.multiply(self, o)
    def __rmul__(self, o): return _ops.multiply(o, self)
    def __truediv__(self, o): return _ops.divide(self, o)
    def __rtruediv__(self, o): return _ops.divide(o, self)
    def __pow__(self, o): return _ops.power(self, o)
    def __rpow__(self, o): return _ops.power(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, idx): return _ops.getitem(self, idx)

    # comparisons: elementwise, boolean, never differentiable
    def _cmp(self, o, ufunc):
        o = o._data if isinstance(o, Tensor) else o
        return Tensor._make(ufunc(self._data, o), False, None)

    def __lt__(self, o): return self._cmp(o, get_array_module(self._data).less)
    def __le__(self, o): return self._cmp(o, get_array_module(self._data).less_equal)
    def __gt__(self, o): return self._cmp(o, get_array_module(self._data).greater)
    def __ge__(self, o): return self._cmp(o, get_array_module(self._data).greater_equal)
    def __eq__(self, o): return self._cmp(o, get_array_module(self._data).equal)  # type: ignore[override]
    def __ne__(self, o): return self._cmp(o, get_array_module(self._data).not_equal)  # type: ignore[override]

    # NumPy calling us (``ndarray + tensor``, ``np.exp(t)``): stay differentiable
    # for the ufuncs gradkit has, else compute on the raw arrays.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = _ufunc_table().get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if fn is not None:
            return fn(*inputs)
        raw = [x._data if isinstance(x, Tensor) else x for x in inputs]
        return getattr(ufunc, method)(*raw, **kwargs)

    # -------------------------------------------- NumPy-style methods
    # sum/mean/max/min also take PyTorch's dim=/keepdim= (max/min(dim=): values, indices)
    def sum(self, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None):
        return _torch().sum(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None):
        return _torch().mean(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def max(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _torch().max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _torch().min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, keepdims=False, ddof=0): return _ops.var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return _ops.std(self, axis, keepdims, ddof)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def softmax(self, axis=-1, *, dim=None): return _ops.softmax(self, axis if dim is None else dim)
    def clip(self, lo=None, hi=None): return _ops.clip(self, lo, hi)
    def matmul(self, o): return _ops.matmul(self, o)
    def dot(self, o): return _ops.dot(self, o)
    def flatten(self, start_dim=0, end_dim=-1): return _torch().flatten(self, start_dim, end_dim)
    def squeeze(self, axis=None, *, dim=None):
        return _ops.squeeze(self, axis if dim is None else dim)

    def swapaxes(self, a, b): return _ops.swapaxes(self, a, b)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _ops.reshape(self, tuple(shape))

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return _ops.transpose(self, tuple(axes) if axes else None)

    def transpose(self, *axes):
        """Two axes: swap them (PyTorch's ``transpose(0, 1)``); else a permutation (NumPy)."""
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return _ops.swapaxes(self, *axes)
        return self.permute(*axes)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the largest value (over the flattened tensor when ``axis`` is None)."""
        return self._arg("argmax", axis if dim is None else dim, keepdims or bool(keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the smallest value (over the flattened tensor when ``axis`` is None)."""
        return self._arg("argmin", axis if dim is None else dim, keepdims or bool(keepdim))

    def _arg(self, op, axis, keepdims):
        if axis is not None:
            axis = normalize_axis(op, axis, self._data.ndim)
        out = getattr(self._data, op)(axis=axis)
        if keepdims:
            out = out.reshape((1,) * self._data.ndim) if axis is None else \
                get_array_module(out).expand_dims(out, axis)
        return Tensor._make(get_array_module(out).asarray(out).astype("int64"), False, None)

    # ------------------------------------------------ PyTorch-style methods
    def dim(self): return self._data.ndim
    def numel(self): return self._data.size
    def view(self, *shape): return self.reshape(*shape)
    def view_as(self, other): return _ops.reshape(self, other.shape)
    def reshape_as(self, other): return _ops.reshape(self, other.shape)
    def unsqueeze(self, dim): return _ops.expand_dims(self, dim)
    def contiguous(self): return self
    def t(self): return _torch().transpose(self, 0, 1) if self.ndim == 2 else self
    def float(self): return _ops.cast(self, float32)
    def double(self): return _ops.cast(self, float64)
    def half(self): return _ops.cast(self, float16)
    def long(self): return _ops.cast(self, int64)
    def int(self): return _ops.cast(self, int32)
    def bool(self): return _ops.cast(self, bool_)
    def type_as(self, other): return _ops.cast(self, other.dtype)

    def type(self, dtype=None):
        """PyTorch's ``x.type(torch.float)``: a cast; without a dtype, the dtype's name."""
        return self.dtype.name if dtype is None else _ops.cast(self, dtype)
    def abs(self): return _ops.abs(self)
    def neg(self): return _ops.negative(self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def pow(self, exponent): return _ops.power(self, exponent)
    def add(self, other): return _ops.add(self, other)
    def sub(self, other): return _ops.subtract(self, other)
    def mul(self, other): return _ops.multiply(self, other)
    def div(self, other): return _ops.divide(self, other)
    def mm(self, other): return _torch().mm(self, other)
    def bmm(self, other): return _torch().bmm(self, other)
    def log_softmax(self, dim=-1): return _ops.log_softmax(self, dim)
    def clamp(self, min=None, max=None): return _ops.clip(self, min, max)  # noqa: A002
    def masked_fill(self, mask, value): return _ops.where(mask, value, self)

    def expand(self, *sizes):
        """Broadcast to ``sizes`` (-1 keeps an axis), without copying."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return _ops.broadcast_to(self, shape)

    def clone(self):
        """A copy with its own memory; gradients flow back to ``self``."""
        if self.requires_grad:
            return _ops.add(self, self._data.dtype.type(0))
        return Tensor._make(self._data.copy(), False, None)

    # in place: allowed while no gradient is being recorded for this tensor (e.g. under
    # no_grad(), as in ``w -= lr * w.grad``); each bumps ``_version``.
    def _inplace(self, op, value, index=Ellipsis):
        if self.requires_grad and _grad_enabled():
            raise RuntimeError(
                f"{op}: in-place change of a tensor that requires grad{self._label()} while "
                "gradients are recorded; do it under `with gradkit.no_grad():` (as in "
                "`w -= lr * w.grad`), or write the out-of-place form (x = x + y)")
        if isinstance(value, Tensor):
            if value.requires_grad and _grad_enabled():
                raise RuntimeError(
                    f"{op}: writing a tensor that requires grad into another in place is not "
                    "recorded by gradkit, so its gradient would be lost; build the result "
                    "out of place (gradkit.cat, gradkit.stack, gradkit.where)")
            value = value._data
        if isinstance(self._data, np.generic):  # a NumPy scalar (0-d sums): make it writable
            self._data = np.array(self._data)  # host: a NumPy scalar is host data
        self._data[index] = value
        self._version += 1
        return self

    def _inplace_op(self, op, other, fn):
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace(op, fn(self._data, other))

    def zero_(self): return self._inplace("zero_", 0)
    def fill_(self, value): return self._inplace("fill_", value)
    def copy_(self, src): return self._inplace("copy_", src)
    def add_(self, other): return self._inplace_op("add_", other, lambda a, b: a + b)
    def sub_(self, other): return self._inplace_op("sub_", other, lambda a, b: a - b)
    def mul_(self, other): return self._inplace_op("mul_", other, lambda a, b: a * b)
    def div_(self, other): return self._inplace_op("div_", other, lambda a, b: a / b)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._inplace("clamp_", get_array_module(self._data).clip(self._data, min, max))

    def __setitem__(self, idx, value):
        if isinstance(idx, Tensor):
            idx = idx._data
        elif isinstance(idx, tuple):
            idx = tuple(i._data if isinstance(i, Tensor) else i for i in idx)
        self._inplace("__setitem__", value, idx)

    def _augmented(self, op, other, out_of_place):
        """``x += y``: in place as in PyTorch; while a graph is recorded through ``x`` or
        ``y`` (not a leaf ``x``), the out-of-place result (same value) is bound instead."""
        if _grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False)):
            if self.requires_grad and self._ctx is None:
                self._inplace(op, other)  # raises: a leaf that requires grad
            return out_of_place(self, other)
        return self._inplace_op(op, other, getattr(_operator, op))

    def __iadd__(self, o): return self._augmented("iadd", o, _ops.add)
    def __isub__(self, o): return self._augmented("isub", o, _ops.subtract)
    def __imul__(self, o): return self._augmented("imul", o, _ops.multiply)
    def __itruediv__(self, o): return self._augmented("itruediv", o, _ops.divide)


class Variable(Tensor):
    """A trainable tensor: the state a model learns (TensorFlow's ``tf.Variable``).

    It requires grad when ``trainable``, is watched by every ``GradientTape``
    automatically, and changes only in place through ``assign``,
    ``assign_add`` and ``assign_sub`` (each counts as an in-place change, so
    a pending backward pass that needed the old value reports it).

    Example::

        w = gradkit.Variable(np.zeros((3, 1)), name="w")
        w.assign_sub(0.1 * grad)
    """

    __slots__ = ("trainable",)

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, device=None):
        if callable(initial_value):
            initial_value = initial_value()
        arr = _to_array(initial_value, dtype, device)
        super().__init__(arr.copy(), name=name)
        self.trainable = bool(trainable)
        if trainable and self._data.dtype.kind == "f":
            self.requires_grad = True

    def _set(self, value, op):
        value = value._data if isinstance(value, Tensor) else value
        xp = get_array_module(self._data)
        value = xp.asarray(value)
        if value.shape != self._data.shape and not _broadcasts_to(value.shape, self._data.shape):
            raise ValueError(
                f"Variable{self._label()}.{op}: value of shape {value.shape} does not fit "
                f"the variable's shape {self._data.shape}")
        if op == "assign":
            self._data[...] = value
        elif op == "assign_add":
            self._data += value
        else:
            self._data -= value
        self._version += 1
        return self

    def assign(self, value):
        """Overwrite the value in place; returns the variable."""
        return self._set(value, "assign")

    def assign_add(self, delta):
        """``self += delta`` in place; returns the variable."""
        return self._set(delta, "assign_add")

    def assign_sub(self, delta):
        """``self -= delta`` in place; returns the variable."""
        return self._set(delta, "assign_sub")

    def value(self):
        """The current value as a (non-trainable) Tensor."""
        return self.detach()

    def __repr__(self):
        return (f"<Variable '{self.name or ''}' shape={self.shape} dtype={self.dtype} "
                f"trainable={self.trainable}>")


def _broadcasts_to(src, dst):
    """True when an array of shape ``src`` broadcasts to exactly ``dst``."""
    if len(src) > len(dst):
        return False
    return all(s in (1, d) for s, d in zip(src[::-1], dst[::-1]))


def tensor(data, dtype=None, requires_grad=False, device=None):
    """Make a Tensor (``gradkit.tensor([1., 2.])``), like ``torch.tensor``: a copy of
    ``data``, on ``device`` (a name such as ``"cpu"``; None: the default device)."""
    arr = _to_array(data, dtype)
    if device is not None:
        from gradkit.devices import place

        arr = place(arr, device)
    if arr is data or (isinstance(data, Tensor) and arr is data._data):
        arr = arr.copy()  # never share the caller's memory
    return Tensor(arr, requires_grad=requires_grad)


from gradkit import ops as _ops  # noqa: E402  (ops are built on Tensor)
from gradkit.autograd import engine as _engine  # noqa: E402  (no import per backward())
from gradkit.autograd.function import is_grad_enabled as _grad_enabled  # noqa: E402


def _torch():
    """gradkit.compat.torch (PyTorch's spellings, built on the ops)."""
    from gradkit.compat import torch

    return torch

_UFUNCS: dict = {}  # NumPy ufunc name -> differentiable op, filled on first use


def _ufunc_table():
    if not _UFUNCS:
        _UFUNCS.update({
            "add": _ops.add, "subtract": _ops.subtract, "multiply": _ops.multiply,
            "divide": _ops.divide, "true_divide": _ops.divide, "power": _ops.power,
            "matmul": _ops.matmul, "negative": _ops.negative, "exp": _ops.exp,
            "log": _ops.log, "sqrt": _ops.sqrt, "tanh": _ops.tanh, "absolute": _ops.abs,
            "maximum": _ops.maximum, "minimum": _ops.minimum, "sign": _ops.sign,
        })
    return _UFUNCS
