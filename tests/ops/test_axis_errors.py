"""One mistake, one exception: an axis out of range is an AxisError (both a ValueError and
an IndexError) from every op and layer that takes an axis, with the same words."""

import numpy as np
import pytest

from gradkit import layers, ops
from gradkit.tensor import Tensor
from gradkit.utils.validation import AxisError

# Every call gets axis 2 (or -3) for a (2, 3) input: one past either end.
CALLS = {
    "sum": lambda x, a: ops.sum(x, a),
    "mean": lambda x, a: ops.mean(x, a),
    "max": lambda x, a: ops.max(x, a),
    "min": lambda x, a: ops.min(x, a),
    "var": lambda x, a: ops.var(x, a),
    "std": lambda x, a: ops.std(x, a),
    "logsumexp": lambda x, a: ops.logsumexp(x, a),
    "sum_tuple": lambda x, a: ops.sum(x, (0, a)),
    "Tensor.mean": lambda x, a: x.mean(axis=a),
    "Tensor.argmax": lambda x, a: x.argmax(axis=a),
    "Tensor.argmin": lambda x, a: x.argmin(a),
    "softmax": lambda x, a: ops.softmax(x, a),
    "log_softmax": lambda x, a: ops.log_softmax(x, a),
    "squeeze": lambda x, a: ops.squeeze(x, a),
    "split": lambda x, a: ops.split(x, 1, axis=a),
    "flatten": lambda x, a: ops.flatten(x, a),
    "swapaxes": lambda x, a: ops.swapaxes(x, 0, a),
    "transpose": lambda x, a: ops.transpose(x, (a, 0)),
    "concatenate": lambda x, a: ops.concatenate([x, x], axis=a),
    "layer_norm": lambda x, a: ops.layer_norm(x, axis=a),
    "batch_norm": lambda x, a: ops.batch_norm(x, None, None, training=True, axis=a),
    "LayerNormalization": lambda x, a: layers.LayerNormalization(axis=a)(x),
    "BatchNormalization": lambda x, a: layers.BatchNormalization(axis=a)(x, training=True),
    "Softmax": lambda x, a: layers.Softmax(axis=a)(x),
}
# the result has one more axis: 3 (or -4) is one past either end
GROWING = {
    "expand_dims": lambda x, a: ops.expand_dims(x, a + (1 if a > 0 else -1)),
    "stack": lambda x, a: ops.stack([x, x], axis=a + (1 if a > 0 else -1)),
}


@pytest.mark.parametrize("axis", [2, -3])
@pytest.mark.parametrize("name", list(CALLS) + list(GROWING))
def test_axis_out_of_range_is_an_axis_error(name, axis):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    fn = CALLS.get(name) or GROWING[name]
    with pytest.raises(AxisError) as e:
        fn(x, axis)
    assert isinstance(e.value, ValueError) and isinstance(e.value, IndexError)
    shown = axis if name in CALLS else axis + (1 if axis > 0 else -1)
    assert f"axis {shown} is out of range" in str(e.value), str(e.value)


def test_layer_axis_errors_name_the_layer():
    with pytest.raises(AxisError, match=r"LayerNormalization 'ln_axis'.*axis 2"):
        layers.LayerNormalization(axis=2, name="ln_axis")(np.ones((2, 3), np.float32))
    with pytest.raises(AxisError, match=r"Softmax 'sm_axis'.*axis 2"):
        layers.Softmax(axis=2, name="sm_axis")(np.ones((2, 3), np.float32))


def test_a_repeated_axis_is_a_value_error_not_an_axis_error():
    x = Tensor(np.ones((2, 3)))
    for fn in (lambda: ops.sum(x, (1, -1)), lambda: ops.layer_norm(x, axis=(1, 1))):
        with pytest.raises(ValueError, match="repeated axis") as e:
            fn()
        assert not isinstance(e.value, AxisError)
