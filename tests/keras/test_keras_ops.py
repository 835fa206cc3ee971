"""``gradkit.keras.ops`` against the real Keras 3 (torch backend) on the same inputs, and
float64 gradchecks of the differentiable ones.

One row per call: the op's name, the inputs (specs from :mod:`tests.ops.inputs`, or
fixed arrays), keyword arguments, and whether it is differentiable. The same row runs
against ``keras.ops`` and, when differentiable, through ``gradkit.testing.gradcheck``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from gradkit import Tensor
from gradkit.keras import ops
from gradkit.testing import gradcheck
from tests.ops.inputs import make_inputs

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="the reference needs Keras 3 (pip install keras)")


def a(*shape, kind="any"):
    return (shape, kind)


INTS = np.array([[0, 2, 1], [3, 1, 0]])
LABELS = np.array([2, 0, 1, 2])
NANS = np.array([[1.0, np.nan, 3.0, -2.0], [np.nan, 0.5, 2.5, 4.0]])
VALUES = "values"  # differentiable, but the inputs hold NaN or kinks: compared with Keras only
# (id, name, inputs, kwargs, differentiable: True, False, VALUES or the indices gradchecked)
CASES = [
    # elementwise
    ("add", "add", [a(2, 3), a(3)], {}, True),
    ("subtract", "subtract", [a(2, 3), a(2, 3)], {}, True),
    ("multiply", "multiply", [a(2, 3), a(1, 3)], {}, True),
    ("divide", "divide", [a(2, 3), a(2, 3, kind="nz")], {}, True),
    ("true_divide", "true_divide", [a(2, 3), a(2, 3, kind="nz")], {}, True),
    # x2's zeros are kinks: only x1 is gradchecked
    ("divide_no_nan", "divide_no_nan", [a(2, 3), np.array([[1.5, 0.0, -2.0], [0.0, 3.0, 1.0]])],
     {}, (0,)),
    ("power", "power", [a(2, 3, kind="pos"), a(2, 3)], {}, True),
    ("negative", "negative", [a(2, 3)], {}, True),
    ("abs", "abs", [a(2, 3, kind="nz")], {}, True),
    ("absolute", "absolute", [a(2, 3, kind="nz")], {}, True),
    ("square", "square", [a(2, 3)], {}, True),
    ("sqrt", "sqrt", [a(2, 3, kind="pos")], {}, True),
    ("rsqrt", "rsqrt", [a(2, 3, kind="pos")], {}, True),
    ("reciprocal", "reciprocal", [a(2, 3, kind="nz")], {}, True),
    ("exp", "exp", [a(2, 3)], {}, True),
    ("exp2", "exp2", [a(2, 3)], {}, True),
    ("expm1", "expm1", [a(2, 3)], {}, True),
    ("log", "log", [a(2, 3, kind="pos")], {}, True),
    ("log1p", "log1p", [a(2, 3, kind="pos")], {}, True),
    ("log2", "log2", [a(2, 3, kind="pos")], {}, True),
    ("log10", "log10", [a(2, 3, kind="pos")], {}, True),
    ("logaddexp", "logaddexp", [a(2, 3), a(2, 3)], {}, True),
    ("sign", "sign", [a(2, 3, kind="nz")], {}, True),
    ("sin", "sin", [a(2, 3)], {}, True),
    ("cos", "cos", [a(2, 3)], {}, True),
    ("tan", "tan", [a(2, 3)], {}, True),
    ("sinh", "sinh", [a(2, 3)], {}, True),
    ("cosh", "cosh", [a(2, 3)], {}, True),
    ("tanh", "tanh", [a(2, 3)], {}, True),
    ("erf", "erf", [a(2, 3)], {}, True),
    ("maximum", "maximum", [a(2, 3, kind="grid_a"), a(2, 3, kind="grid_b")], {}, True),
    ("minimum", "minimum", [a(2, 3, kind="grid_a"), a(2, 3, kind="grid_b")], {}, True),
    ("clip", "clip", [a(2, 3, kind="grid_a")], {"x_min": -0.5, "x_max": 0.5}, True),
    ("where", "where", [a(2, 3, kind="mask"), a(2, 3), a(2, 3)], {}, True),
    ("floor", "floor", [a(2, 3, kind="grid_a")], {}, False),
    ("ceil", "ceil", [a(2, 3, kind="grid_a")], {}, False),
    ("trunc", "trunc", [a(2, 3, kind="grid_a")], {}, False),
    ("round", "round", [np.array([0.5, 1.5, -2.5, 1.26])], {"decimals": 1}, False),
    ("floor_divide", "floor_divide", [np.array([7.0, -7.0, 5.5]), np.array([2.0, 2.0, -2.0])],
     {}, False),
    ("mod", "mod", [np.array([7.5, -7.5, 5.5]), np.array([2.0, 2.0, -2.0])], {}, True),
    # comparisons and logic
    ("equal", "equal", [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])], {}, False),
    ("not_equal", "not_equal", [np.array([1.0, 2.0]), np.array([1.0, 0.0])], {}, False),
    ("greater", "greater", [a(2, 3), a(2, 3)], {}, False),
    ("greater_equal", "greater_equal", [a(2, 3), a(2, 3)], {}, False),
    ("less", "less", [a(2, 3), a(2, 3)], {}, False),
    ("less_equal", "less_equal", [a(2, 3), a(2, 3)], {}, False),
    ("logical_and", "logical_and", [a(2, 3, kind="mask"), a(2, 3, kind="mask")], {}, False),
    ("logical_or", "logical_or", [a(2, 3, kind="mask"), a(2, 3, kind="mask")], {}, False),
    ("logical_xor", "logical_xor", [a(2, 3, kind="mask"), a(2, 3, kind="mask")], {}, False),
    ("logical_not", "logical_not", [a(2, 3, kind="mask")], {}, False),
    ("isnan", "isnan", [np.array([1.0, np.nan, np.inf])], {}, False),
    ("isinf", "isinf", [np.array([1.0, np.nan, -np.inf])], {}, False),
    ("isfinite", "isfinite", [np.array([1.0, np.nan, np.inf])], {}, False),
    ("isclose", "isclose", [np.array([1.0, 2.0]), np.array([1.0 + 1e-9, 2.1])], {}, False),
    ("all", "all", [a(2, 3, kind="mask")], {"axis": 1}, False),
    ("any", "any", [a(2, 3, kind="mask")], {"axis": 0, "keepdims": True}, False),
    ("count_nonzero", "count_nonzero", [INTS], {"axis": 1}, False),
    # reductions
    ("sum", "sum", [a(2, 3, 4)], {"axis": (0, 2)}, True),
    ("sum_keep", "sum", [a(2, 3, 4)], {"axis": -1, "keepdims": True}, True),
    ("mean", "mean", [a(2, 3, 4)], {"axis": 1}, True),
    ("max", "max", [a(2, 3, kind="distinct")], {"axis": 1}, True),
    ("max_initial", "max", [a(2, 3, kind="distinct")], {"axis": 1, "initial": 0.1}, True),
    ("min", "min", [a(2, 3, kind="distinct")], {}, True),
    ("amax", "amax", [a(2, 3, kind="distinct")], {"axis": 0}, True),
    ("amin", "amin", [a(2, 3, kind="distinct")], {"axis": 0, "keepdims": True}, True),
    ("std", "std", [a(2, 5)], {"axis": 1}, True),
    ("var", "var", [a(2, 5)], {"axis": 0}, True),
    ("logsumexp", "logsumexp", [a(2, 5)], {"axis": 1}, True),
    ("cumsum", "cumsum", [a(2, 5)], {"axis": 1}, True),
    ("cumsum_flat", "cumsum", [a(2, 3)], {}, True),
    ("average", "average", [a(2, 4)], {"axis": 1, "weights": np.array([1.0, 2.0, 0.5, 3.0])},
     True),
    ("average_plain", "average", [a(2, 4)], {}, True),
    ("argmax", "argmax", [a(3, 4, kind="distinct")], {"axis": 1}, False),
    ("argmax_flat_keep", "argmax", [a(3, 4, kind="distinct")], {"keepdims": True}, False),
    ("argmin", "argmin", [a(3, 4, kind="distinct")], {"axis": 0}, False),
    ("argsort", "argsort", [a(3, 4, kind="distinct")], {"axis": -1}, False),
    # shape
    ("reshape", "reshape", [a(2, 3, 4)], {"newshape": (4, -1)}, True),
    ("transpose", "transpose", [a(2, 3, 4)], {"axes": (2, 0, 1)}, True),
    ("swapaxes", "swapaxes", [a(2, 3, 4)], {"axis1": 0, "axis2": 2}, True),
    ("moveaxis", "moveaxis", [a(2, 3, 4)], {"source": 0, "destination": -1}, True),
    ("moveaxis_pairs", "moveaxis", [a(2, 3, 4, 5)], {"source": (0, 1), "destination": (3, 0)},
     True),
    ("expand_dims", "expand_dims", [a(2, 3)], {"axis": 1}, True),
    ("expand_dims_neg", "expand_dims", [a(2, 3)], {"axis": -1}, True),
    ("squeeze", "squeeze", [a(2, 1, 3)], {"axis": 1}, True),
    ("ravel", "ravel", [a(2, 3)], {}, True),
    ("broadcast_to", "broadcast_to", [a(3, 1)], {"shape": (2, 3, 4)}, True),
    ("tile", "tile", [a(2, 3)], {"repeats": (2, 1, 3)}, True),
    ("tile_int", "tile", [a(2, 3)], {"repeats": 2}, True),
    ("repeat", "repeat", [a(2, 3)], {"repeats": 2, "axis": 1}, True),
    ("repeat_flat", "repeat", [a(2, 3)], {"repeats": 3}, True),
    ("flip", "flip", [a(2, 3, 4)], {"axis": 1}, True),
    ("flip_all", "flip", [a(2, 3)], {}, True),
    ("roll", "roll", [a(2, 5)], {"shift": 2, "axis": 1}, True),
    ("roll_flat", "roll", [a(2, 5)], {"shift": -3}, True),
    ("take", "take", [a(4, 3), np.array([3, 0, 3, -1])], {"axis": 0}, True),
    ("take_flat", "take", [a(4, 3), np.array([[1, 11], [5, 5]])], {}, True),
    ("take_along_axis", "take_along_axis", [a(3, 4), np.array([[0, 3], [2, 2], [1, 0]])],
     {"axis": 1}, True),
    ("sort", "sort", [a(3, 5, kind="distinct")], {"axis": -1}, True),
    ("sort_axis0", "sort", [a(3, 5, kind="distinct")], {"axis": 0}, True),
    ("tril", "tril", [a(3, 4)], {"k": 0}, True),
    ("triu", "triu", [a(2, 3, 4)], {"k": 1}, True),
    ("tril_neg", "tril", [a(4, 4)], {"k": -1}, True),
    ("diagonal", "diagonal", [a(3, 4)], {"offset": 1}, True),
    ("diagonal_3d", "diagonal", [a(2, 3, 3)], {"axis1": 1, "axis2": 2}, True),
    ("diag_of_vector", "diag", [a(3)], {"k": -1}, True),
    ("diag_of_matrix", "diag", [a(3, 3)], {}, True),
    ("trace", "trace", [a(3, 3)], {}, True),
    ("pad", "pad", [a(2, 3)], {"pad_width": ((1, 0), (2, 1)), "constant_values": 0.5}, True),
    ("append", "append", [a(2, 3), a(1, 3)], {"axis": 0}, True),
    ("append_flat", "append", [a(2, 3), a(4)], {}, True),
    ("get_item", "get_item", [a(3, 4)], {"key": (slice(1, None), 2)}, True),
    ("slice", "slice", [a(3, 4)], {"start_indices": (1, 1), "shape": (2, 2)}, True),
    # linear algebra
    ("matmul", "matmul", [a(2, 3, 4), a(4, 5)], {}, True),
    ("dot_2d", "dot", [a(3, 4), a(4, 2)], {}, True),
    ("dot_vec_mat", "dot", [a(3, 4), a(4)], {}, True),
    ("dot_vec", "dot", [a(4), a(4)], {}, True),
    ("tensordot", "tensordot", [a(2, 3, 4), a(3, 4, 5)], {"axes": 2}, True),
    ("tensordot_pairs", "tensordot", [a(2, 3, 4), a(4, 2)], {"axes": ([0, 2], [1, 0])}, True),
    ("outer", "outer", [a(3), a(2, 2)], {}, True),
    ("einsum", "einsum", ["ij,jk->ik", a(2, 3), a(3, 4)], {}, True),
    ("norm", "norm", [a(3, 4)], {}, True),
    ("norm_axis", "norm", [a(3, 4)], {"axis": 1}, True),
    ("norm_l1", "norm", [a(3, 4, kind="nz")], {"ord": 1, "axis": -1}, True),
    ("norm_inf", "norm", [a(3, 4, kind="distinct")], {"ord": np.inf, "axis": -1}, True),
    ("norm_p3", "norm", [a(3, 4, kind="nz")], {"ord": 3, "axis": 0, "keepdims": True}, True),
    ("norm_fro", "norm", [a(3, 4)], {"ord": "fro", "axis": (0, 1)}, True),
    ("normalize", "normalize", [a(3, 4)], {"axis": -1}, True),
    # neural-network functions
    ("relu", "relu", [a(2, 5, kind="kinks")], {}, True),
    ("relu6", "relu6", [a(2, 5, kind="kinks")], {}, True),
    ("leaky_relu", "leaky_relu", [a(2, 3, kind="nz")], {"negative_slope": 0.1}, True),
    ("elu", "elu", [a(2, 3, kind="nz")], {"alpha": 0.5}, True),
    ("selu", "selu", [a(2, 3, kind="nz")], {}, True),
    ("celu", "celu", [a(2, 3, kind="nz")], {"alpha": 0.7}, True),
    ("gelu", "gelu", [a(2, 3)], {}, True),
    ("gelu_exact", "gelu", [a(2, 3)], {"approximate": False}, True),
    ("sigmoid", "sigmoid", [a(2, 3)], {}, True),
    ("log_sigmoid", "log_sigmoid", [a(2, 3)], {}, True),
    ("hard_sigmoid", "hard_sigmoid", [a(2, 5, kind="kinks")], {}, True),
    ("hard_silu", "hard_silu", [a(2, 5, kind="kinks")], {}, True),
    ("hard_swish", "hard_swish", [a(2, 5, kind="kinks")], {}, True),
    ("hard_tanh", "hard_tanh", [a(2, 3, kind="grid_a")], {}, True),
    ("silu", "silu", [a(2, 3)], {}, True),
    ("swish", "swish", [a(2, 3)], {}, True),
    ("softplus", "softplus", [a(2, 3)], {}, True),
    ("softsign", "softsign", [a(2, 3)], {}, True),
    ("glu", "glu", [a(2, 4)], {}, True),
    ("softmax", "softmax", [a(2, 3)], {"axis": 0}, True),
    ("log_softmax", "log_softmax", [a(2, 3)], {}, True),
    ("one_hot", "one_hot", [LABELS], {"num_classes": 4}, False),
    ("one_hot_axis0", "one_hot", [LABELS], {"num_classes": 3, "axis": 0}, False),
    ("multi_hot", "multi_hot", [INTS], {"num_classes": 5}, False),
    ("binary_crossentropy", "binary_crossentropy", [a(3, 2, kind="prob"), a(3, 2, kind="prob")],
     {}, True),
    ("binary_crossentropy_logits", "binary_crossentropy", [a(3, 2, kind="prob"), a(3, 2)],
     {"from_logits": True}, True),
    ("categorical_crossentropy", "categorical_crossentropy",
     [a(3, 4, kind="probs"), a(3, 4, kind="probs")], {}, True),
    ("categorical_crossentropy_logits", "categorical_crossentropy",
     [a(3, 4, kind="probs"), a(3, 4)], {"from_logits": True}, True),
    ("sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
     [LABELS, a(4, 3, kind="probs")], {}, True),
    ("sparse_categorical_crossentropy_logits", "sparse_categorical_crossentropy",
     [LABELS, a(4, 3)], {"from_logits": True}, True),
    ("dot_product_attention", "dot_product_attention", [a(2, 3, 2, 4), a(2, 5, 2, 4),
                                                        a(2, 5, 2, 3)], {}, True),
    ("dot_product_attention_causal", "dot_product_attention",
     [a(1, 4, 2, 3), a(1, 4, 2, 3), a(1, 4, 2, 3)], {"is_causal": True}, True),
    ("dot_product_attention_bias", "dot_product_attention",
     [a(1, 3, 1, 2), a(1, 4, 1, 2), a(1, 4, 1, 2), a(1, 1, 3, 4)], {}, (0, 1, 2)),
    ("dot_product_attention_mask", "dot_product_attention",
     [a(1, 3, 1, 2), a(1, 4, 1, 2), a(1, 4, 1, 2)],
     {"mask": np.array([[[[True, False, True, True], [True, True, False, False],
                          [False, True, True, True]]]])}, True),
    ("conv", "conv", [a(2, 6, 6, 3), a(3, 3, 3, 4)], {"strides": 2, "padding": "same"}, True),
    ("max_pool", "max_pool", [a(1, 4, 4, 2, kind="distinct")], {"pool_size": 2}, True),
    ("average_pool", "average_pool", [a(1, 4, 6, 2)], {"pool_size": (2, 3), "strides": 1},
     True),
    ("batch_normalization", "batch_normalization", [a(4, 3), a(3), a(3, kind="pos")],
     {"axis": -1, "epsilon": 1e-3, "offset": np.array([0.1, -0.2, 0.3]),
      "scale": np.array([1.5, 0.5, 2.0])}, True),
    ("layer_normalization", "layer_normalization", [a(2, 5), a(5), a(5)],
     {"epsilon": 1e-3}, True),
    ("moments", "moments", [a(3, 4)], {"axes": [0]}, True),
    # more numpy-style ops
    ("arctan", "arctan", [a(2, 3)], {}, True),
    ("arcsin", "arcsin", [a(2, 3, kind="prob")], {}, True),
    ("arccos", "arccos", [a(2, 3, kind="prob")], {}, True),
    ("arctan2", "arctan2", [np.array([1.0, -1.0, 0.5, -0.5, 0.0, 2.0, -2.0]),
                            np.array([1.0, 1.0, -1.0, -1.0, -1.0, 0.0, 0.0])], {}, VALUES),
    ("arctan2_grad", "arctan2", [np.array([1.0, -1.0, 0.5, -0.5]),
                                 np.array([1.0, 0.3, -1.0, -2.0])], {}, True),
    ("arcsinh", "arcsinh", [a(2, 3)], {}, True),
    ("arccosh", "arccosh", [np.array([1.5, 2.0, 10.0])], {}, True),
    ("arctanh", "arctanh", [a(2, 3, kind="prob")], {}, True),
    ("fabs", "fabs", [a(2, 3, kind="nz")], {}, True),
    ("cbrt", "cbrt", [a(2, 3, kind="nz")], {}, True),
    ("sinc", "sinc", [np.array([0.0, 0.3, -1.7, 2.5])], {}, True),
    ("deg2rad", "deg2rad", [a(2, 3)], {}, True),
    ("rad2deg", "rad2deg", [a(2, 3)], {}, True),
    ("hypot", "hypot", [a(2, 3, kind="nz"), a(2, 3)], {}, True),
    ("logaddexp2", "logaddexp2", [a(2, 3), a(2, 3)], {}, True),
    ("ldexp", "ldexp", [a(2, 3), np.array([[1, -2, 0], [3, 1, 2]])], {}, True),
    ("fmax", "fmax", [NANS, NANS[::-1]], {}, VALUES),
    ("fmin", "fmin", [NANS, NANS[::-1]], {}, VALUES),
    ("fmax_finite", "fmax", [a(2, 3, kind="grid_a"), a(2, 3, kind="grid_b")], {}, True),
    ("fmin_finite", "fmin", [a(2, 3, kind="grid_a"), a(2, 3, kind="grid_b")], {}, True),
    ("heaviside", "heaviside", [np.array([-1.0, 0.0, 2.0]), np.array([0.5, 0.5, 0.5])], {},
     False),
    ("signbit", "signbit", [np.array([-1.0, 0.0, 2.0])], {}, False),
    ("isneginf", "isneginf", [np.array([-np.inf, 0.0, np.inf])], {}, False),
    ("isposinf", "isposinf", [np.array([-np.inf, 0.0, np.inf])], {}, False),
    ("nan_to_num", "nan_to_num", [np.array([1.0, np.nan, np.inf, -np.inf])],
     {"nan": 0.5, "posinf": 9.0, "neginf": -9.0}, VALUES),
    ("nan_to_num_finite", "nan_to_num", [a(2, 3)], {}, True),
    ("ptp", "ptp", [a(3, 4, kind="distinct")], {"axis": 1}, True),
    ("nansum", "nansum", [NANS], {"axis": 1}, VALUES),
    ("nanmean", "nanmean", [NANS], {"axis": 0}, VALUES),
    ("nanmax", "nanmax", [NANS], {"axis": 1, "keepdims": True}, VALUES),
    ("nanmin", "nanmin", [NANS], {}, VALUES),
    ("nansum_finite", "nansum", [a(2, 4)], {"axis": 1}, True),
    ("nanmean_finite", "nanmean", [a(2, 4)], {"axis": 0}, True),
    ("nanmax_finite", "nanmax", [a(2, 4, kind="distinct")], {"axis": 1}, True),
    ("nanmin_finite", "nanmin", [a(2, 4, kind="distinct")], {}, True),
    ("quantile", "quantile", [a(3, 5, kind="distinct")], {"q": 0.3, "axis": 1}, True),
    ("quantile_list", "quantile", [a(3, 5, kind="distinct")],
     {"q": [0.1, 0.5, 1.0], "axis": 0, "keepdims": True}, True),
    ("quantile_nearest", "quantile", [a(3, 5, kind="distinct")],
     {"q": 0.6, "method": "nearest"}, True),
    ("quantile_midpoint", "quantile", [a(3, 5, kind="distinct")],
     {"q": 0.4, "axis": 1, "method": "midpoint"}, True),
    ("percentile", "percentile", [a(4, 3, kind="distinct")], {"q": 75.0, "axis": 0}, True),
    ("median", "median", [a(3, 4, kind="distinct")], {"axis": -1}, True),
    ("diff", "diff", [a(3, 5)], {"n": 2}, True),
    ("diff_axis0", "diff", [a(3, 5)], {"axis": 0}, True),
    ("trapezoid", "trapezoid", [a(3, 5)], {"dx": 0.5}, True),
    ("trapezoid_x", "trapezoid", [a(3, 5)], {"x": np.array([0.0, 0.5, 1.5, 2.0, 3.5])}, True),
    ("cross", "cross", [a(4, 3), a(4, 3)], {}, True),
    ("inner", "inner", [a(2, 3), a(4, 3)], {}, True),
    ("vdot", "vdot", [a(6), a(6)], {}, True),
    ("array_split", "array_split", [a(7, 2)], {"indices_or_sections": 3}, True),
    ("hsplit", "hsplit", [a(2, 4)], {"indices_or_sections": 2}, True),
    ("vsplit", "vsplit", [a(4, 3)], {"indices_or_sections": [1, 3]}, True),
    ("dsplit", "dsplit", [a(2, 2, 4)], {"indices_or_sections": 2}, True),
    ("in_top_k", "in_top_k", [LABELS, a(4, 3, kind="distinct")], {"k": 2}, False),
    ("digitize", "digitize", [a(2, 5), np.array([-1.0, 0.0, 0.5, 1.0])], {}, False),
    ("searchsorted", "searchsorted", [np.array([-1.0, 0.0, 0.5, 1.0]), a(6)],
     {"side": "right"}, False),
    ("bincount", "bincount", [np.array([0, 3, 3, 1, 5])], {"minlength": 7}, False),
    ("bincount_weights", "bincount", [np.array([0, 3, 3, 1])],
     {"weights": np.array([0.5, 1.0, 2.0, 3.0])}, False),
    ("sparse_plus", "sparse_plus", [np.array([-2.0, -0.5, 0.3, 0.9, 1.5])], {}, True),
    ("sparse_sigmoid", "sparse_sigmoid", [np.array([-2.0, -0.5, 0.3, 0.9, 1.5])], {}, True),
    ("squareplus", "squareplus", [a(2, 3)], {"b": 2}, True),
    ("soft_shrink", "soft_shrink", [np.array([-2.0, -0.3, 0.1, 0.7, 1.5])], {}, True),
    ("hard_shrink", "hard_shrink", [np.array([-2.0, -0.3, 0.1, 0.7, 1.5])], {}, True),
    ("tanh_shrink", "tanh_shrink", [a(2, 3)], {}, True),
    ("threshold", "threshold", [np.array([-2.0, -0.3, 0.1, 0.7, 1.5])],
     {"threshold": 0.2, "default_value": -1.0}, True),
    ("rms_normalization", "rms_normalization", [a(3, 4), a(4)], {"axis": -1}, True),
    ("psnr", "psnr", [a(2, 4, 4, 1, kind="prob"), a(2, 4, 4, 1, kind="prob")],
     {"max_val": 1.0}, True),
    ("segment_sum", "segment_sum", [a(5, 2), np.array([0, 0, 2, 1, 2])], {}, True),
    ("segment_sum_n", "segment_sum", [a(5, 2), np.array([0, 0, 2, 1, 2])],
     {"num_segments": 4}, True),
    ("scatter", "scatter", [np.array([[0, 1], [2, 2], [0, 1]]), a(3)], {"shape": (3, 3)}, True),
    ("scatter_update", "scatter_update", [a(3, 3), np.array([[0, 1], [2, 2]]), a(2)], {}, True),
    ("slice_update", "slice_update", [a(4, 5), np.array([1, 2]), a(2, 3)], {}, True),
    ("meshgrid", "meshgrid", [a(3), a(2)], {}, True),
    ("meshgrid_ij", "meshgrid", [a(3), a(2), a(4)], {"indexing": "ij"}, True),
    ("vstack", "vstack", [[np.arange(3.0), np.ones((2, 3))]], {}, False),
    ("hstack", "hstack", [[np.arange(3.0), np.ones(2)]], {}, False),
    ("dstack", "dstack", [[np.ones((2, 3)), np.zeros((2, 3))]], {}, False),
    ("erfc", "erfc", [a(2, 3)], {}, True),
    ("fliplr", "fliplr", [a(2, 3, 2)], {}, True),
    ("flipud", "flipud", [a(2, 3)], {}, True),
    ("rot90", "rot90", [a(2, 3, 4)], {}, True),
    ("rot90_k3", "rot90", [a(2, 3, 4)], {"k": 3, "axes": (1, 2)}, True),
    ("rot90_neg", "rot90", [a(2, 3)], {"k": -1}, True),
    ("diagflat", "diagflat", [a(2, 2)], {"k": 1}, True),
    ("select", "select", [[np.array([True, False, False]), np.array([True, True, False])],
                          [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])]],
     {"default": -1.0}, False),
    ("cdist", "cdist", [a(3, 2), a(4, 2)], {}, True),
    ("allclose", "allclose", [np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])], {}, False),
    ("isin", "isin", [INTS, np.array([1, 3])], {}, False),
    ("isin_invert", "isin", [INTS, np.array([1, 3])], {"invert": True}, False),
    ("bitwise_and", "bitwise_and", [INTS, INTS[::-1]], {}, False),
    ("bitwise_or", "bitwise_or", [INTS, INTS[::-1]], {}, False),
    ("bitwise_xor", "bitwise_xor", [INTS, INTS[::-1]], {}, False),
    ("bitwise_invert", "bitwise_invert", [INTS], {}, False),
    ("bitwise_not", "bitwise_not", [INTS], {}, False),
    ("left_shift", "left_shift", [INTS, np.array([1, 2, 0])], {}, False),
    ("right_shift", "right_shift", [INTS * 8, np.array([1, 2, 0])], {}, False),
    ("gcd", "gcd", [np.array([12, 18, 7]), np.array([8, 12, 5])], {}, False),
    ("lcm", "lcm", [np.array([4, 6, 7]), np.array([6, 8, 5])], {}, False),
    ("nextafter", "nextafter", [np.array([1.0, 0.0]), np.array([2.0, -1.0])], {}, False),
    ("nanargmax", "nanargmax", [NANS], {"axis": 1}, False),
    ("nanargmin", "nanargmin", [NANS], {"axis": 0}, False),
    ("nancumsum", "nancumsum", [NANS], {"axis": 1}, VALUES),
    ("nanvar", "nanvar", [NANS], {"axis": 1}, VALUES),
    ("nanstd", "nanstd", [NANS], {"axis": 0, "keepdims": True}, VALUES),
    ("nanvar_finite", "nanvar", [a(3, 4)], {"axis": 1}, True),
    ("hamming", "hamming", [5], {}, False),
    ("hanning", "hanning", [6], {}, False),
    ("bartlett", "bartlett", [5], {}, False),
    ("blackman", "blackman", [7], {}, False),
    ("kaiser", "kaiser", [6], {"beta": 5.0}, False),
    ("i0", "i0", [np.array([0.0, 0.5, 2.0])], {}, False),
    ("histogram", "histogram", [a(20)], {"bins": 4}, False),
]
IDS = [c[0] for c in CASES]


def _inputs(specs, seed):
    out = []
    rng_seed = seed
    for s in specs:
        if isinstance(s, tuple) and len(s) >= 2 and isinstance(s[1], str) and \
                isinstance(s[0], tuple):
            if isinstance(s[1], str) and len(s) == 3 and isinstance(s[2], float):
                out.append(make_inputs([(s[0], "any", s[2])], rng_seed)[0])
            else:
                out.append(make_inputs([s], rng_seed)[0])
            rng_seed += 1
        else:
            out.append(s)
    return out


def _numpy(x):
    if isinstance(x, (tuple, list)):
        return [_numpy(v) for v in x]
    return np.asarray(x.numpy() if isinstance(x, Tensor) else x)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_keras(case, keras):
    cid, name, specs, kwargs, _ = case
    args = _inputs(specs, seed=len(cid))
    ours = _numpy(getattr(ops, name)(*args, **kwargs))
    ref = keras.ops.convert_to_numpy
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    theirs = [ref(t) for t in theirs] if isinstance(theirs, (tuple, list)) else ref(theirs)
    for o, t in zip(ours if isinstance(ours, list) else [ours],
                    theirs if isinstance(theirs, list) else [theirs]):
        assert o.shape == t.shape, f"{cid}: shape {o.shape}, Keras {t.shape}"
        if t.dtype.kind == "b":
            np.testing.assert_array_equal(o, t)
        else:  # Keras computes a few ops (tensordot...) in float32 even for float64 inputs
            tol = (1e-6, 1e-7) if t.dtype != np.float32 else (2e-5, 2e-6)
            np.testing.assert_allclose(o.astype(np.float64), t.astype(np.float64),
                                       rtol=tol[0], atol=tol[1], err_msg=cid)


GRAD_CASES = [c for c in CASES if c[4] is not False and c[4] != VALUES]
CONST_CASES = [c for c in CASES if c[4] is False]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(case):
    cid, name, specs, kwargs, wrt = case
    args = _inputs(specs, seed=len(cid))
    fn = getattr(ops, name)
    words = {i: x for i, x in enumerate(args) if isinstance(x, str)}  # einsum's subscripts

    def call(*xs):
        xs = [words.get(i, x) for i, x in enumerate(xs)]
        out = fn(*xs, **kwargs)
        return out if isinstance(out, Tensor) else ops.concatenate([ops.ravel(o) for o in out])

    # labels and masks stay constants; float arrays are differentiated (those in wrt)
    assert gradcheck(call, *[0.0 if i in words else x for i, x in enumerate(args)],
                     wrt=None if wrt is True else wrt), cid


@pytest.mark.parametrize("case", CONST_CASES, ids=[c[0] for c in CONST_CASES])
def test_no_gradient_ops_return_constants(case):
    cid, name, specs, kwargs, _ = case
    args = [Tensor(x, requires_grad=True) if isinstance(x, np.ndarray) and x.dtype.kind == "f"
            else x for x in _inputs(specs, seed=len(cid))]
    out = getattr(ops, name)(*args, **kwargs)
    for t in out if isinstance(out, tuple) else (out,):
        assert isinstance(t, Tensor) and not t.requires_grad
