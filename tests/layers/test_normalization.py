"""BatchNormalization and LayerNormalization vs PyTorch and a NumPy reference of Keras's
formulas, in float64; gradcheck; training in both styles; errors."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit.utils.validation import AxisError

F64 = "float64"


def _keras_bn_reference(batches, axis_keep, momentum, eps):
    """Moving mean/variance after ``batches`` with Keras's rule (biased batch variance)."""
    mm, mv = 0.0, 1.0
    for x in batches:
        red = tuple(i for i in range(x.ndim) if i not in axis_keep)
        mean, var = x.mean(axis=red), x.var(axis=red)
        mm = mm * momentum + mean * (1 - momentum)
        mv = mv * momentum + var * (1 - momentum)
    return mm, mv


def _torch_input(torch, x, layout):
    """Our layout -> torch's channels-first layout."""
    if layout == "nhwc":
        return torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    return torch.tensor(x, requires_grad=True)


def _back_from_torch(a, layout):
    return a.transpose(0, 2, 3, 1) if layout == "nhwc" else a


BN_CASES = {
    # name: (shape, keras axis, torch module, layout of our input)
    "nc": ((16, 5), -1, "BatchNorm1d", "nc"),
    "nhwc": ((4, 3, 5, 6), -1, "BatchNorm2d", "nhwc"),
    "nchw_axis1": ((4, 6, 3, 5), 1, "BatchNorm2d", "nchw"),
}


class TestBatchNormalization:
    @pytest.mark.parametrize("case", list(BN_CASES))
    def test_matches_torch_training_and_inference(self, torch, rng, case):
        shape, axis, mod, layout = BN_CASES[case]
        channels = shape[axis]
        momentum, eps = 0.9, 1e-3
        bn = L.BatchNormalization(axis=axis, momentum=momentum, epsilon=eps, dtype=F64)
        bn.build((None,) + shape[1:])
        bn.gamma.assign(rng.uniform(0.5, 1.5, channels))
        bn.beta.assign(rng.standard_normal(channels))
        tbn = getattr(torch.nn, mod)(channels, eps=eps, momentum=1 - momentum,
                                     dtype=torch.float64)
        with torch.no_grad():
            tbn.weight.copy_(torch.from_numpy(bn.gamma.numpy()))
            tbn.bias.copy_(torch.from_numpy(bn.beta.numpy()))
        keep = (axis % len(shape),)

        batches = [rng.standard_normal(shape) * 3 + 1 for _ in range(3)]
        for x in batches:
            up = rng.standard_normal(shape)
            xg = gradkit.Tensor(x, requires_grad=True)
            y = bn(xg, training=True)
            (y * gradkit.Tensor(up)).sum().backward()
            tbn.train()
            xt = _torch_input(torch, x, layout)
            yt = tbn(xt)
            (yt * _torch_input(torch, up, layout).detach()).sum().backward()
            np.testing.assert_allclose(y.numpy(), _back_from_torch(yt.detach().numpy(), layout),
                                       rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(xg.grad.numpy(),
                                       _back_from_torch(xt.grad.numpy(), layout),
                                       rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(bn.gamma.grad.numpy(), tbn.weight.grad.numpy(),
                                       rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(bn.beta.grad.numpy(), tbn.bias.grad.numpy(),
                                       rtol=1e-8, atol=1e-10)
            bn.zero_grad()
            tbn.zero_grad()
            # moving mean: same rule in both (torch momentum = 1 - keras momentum)
            np.testing.assert_allclose(bn.moving_mean.numpy(), tbn.running_mean.numpy(),
                                       rtol=1e-12, atol=1e-12)
        # moving variance: Keras uses the biased batch variance, PyTorch the unbiased one
        ref_mean, ref_var = _keras_bn_reference(batches, keep, momentum, eps)
        np.testing.assert_allclose(bn.moving_mean.numpy(), ref_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.moving_variance.numpy(), ref_var, rtol=1e-12)
        n = x.size // channels
        torch_biased = 1.0  # replay torch's rule with the biased variance: it must match ours
        for xb in batches:
            red = tuple(i for i in range(xb.ndim) if i not in keep)
            unbiased = xb.var(axis=red, ddof=1)
            torch_biased = torch_biased * momentum + unbiased * (n - 1) / n * (1 - momentum)
        np.testing.assert_allclose(bn.moving_variance.numpy(), torch_biased, rtol=1e-12)
        assert not np.allclose(bn.moving_variance.numpy(), tbn.running_var.numpy())

        # inference: moving statistics (give torch our variance so both use the same)
        with torch.no_grad():
            tbn.running_var.copy_(torch.from_numpy(bn.moving_variance.numpy()))
        tbn.eval()
        x = rng.standard_normal(shape)
        up = rng.standard_normal(shape)
        xg = gradkit.Tensor(x, requires_grad=True)
        y = bn(xg)
        (y * gradkit.Tensor(up)).sum().backward()
        xt = _torch_input(torch, x, layout)
        yt = tbn(xt)
        (yt * _torch_input(torch, up, layout).detach()).sum().backward()
        np.testing.assert_allclose(y.numpy(), _back_from_torch(yt.detach().numpy(), layout),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(xg.grad.numpy(), _back_from_torch(xt.grad.numpy(), layout),
                                   rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bn.gamma.grad.numpy(), tbn.weight.grad.numpy(), rtol=1e-8)
        np.testing.assert_allclose(bn.beta.grad.numpy(), tbn.bias.grad.numpy(), rtol=1e-8)

    def test_weights(self):
        bn = L.BatchNormalization()
        bn(np.zeros((2, 3, 4), "float32"))
        assert [w.name.split("/")[-1] for w in bn.weights] == [
            "gamma", "beta", "moving_mean", "moving_variance"]
        assert bn.trainable_weights == [bn.gamma, bn.beta]
        assert bn.non_trainable_weights == [bn.moving_mean, bn.moving_variance]
        assert bn.count_params() == 16
        np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(4))
        plain = L.BatchNormalization(center=False, scale=False)
        plain(np.zeros((2, 3), "float32"))
        assert plain.trainable_weights == [] and len(plain.weights) == 2

    @pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False),
                                              (False, False)])
    @pytest.mark.parametrize("training", [True, False])
    def test_gradcheck(self, rng, layer_gradcheck, center, scale, training):
        bn = L.BatchNormalization(axis=1, center=center, scale=scale, dtype=F64)
        bn.build((None, 3, 2))
        names = []
        if scale:
            bn.gamma.assign(rng.uniform(0.5, 1.5, 3))
            names.append("gamma")
        if center:
            bn.beta.assign(rng.standard_normal(3))
            names.append("beta")
        bn.moving_mean.assign(rng.standard_normal(3))
        bn.moving_variance.assign(rng.uniform(0.5, 2, 3))
        def call(lay, x):
            return lay(x, training=training)

        assert layer_gradcheck(bn, rng.standard_normal((4, 3, 2)), names, call=call)

    def test_second_order_gradient(self, rng):
        # create_graph through the fused op: d/dx of <dL/dx, v>, checked numerically
        from gradkit.testing import gradcheck

        bn = L.BatchNormalization(dtype=F64)
        bn.build((None, 3))
        bn.gamma.assign(rng.uniform(0.5, 1.5, 3))
        v = gradkit.Tensor(rng.standard_normal((5, 3)))

        def grad_dot_v(x):
            gx = gradkit.grad(lambda t: (bn(t, training=True) ** 3).sum())(x)
            return (gx * v).sum()

        assert gradcheck(grad_dot_v, rng.standard_normal((5, 3)), atol=1e-5)

    def test_trainable_false_runs_in_inference_mode(self, rng):
        bn = L.BatchNormalization()
        x = (rng.standard_normal((8, 3)) * 5 + 2).astype("float32")
        bn(x, training=True)
        frozen_mean = bn.moving_mean.numpy().copy()
        bn.trainable = False
        y = bn(x, training=True)
        np.testing.assert_array_equal(bn.moving_mean.numpy(), frozen_mean)
        np.testing.assert_allclose(y.numpy(), bn(x, training=False).numpy())
        assert bn.trainable_weights == []

    def test_train_eval_modes(self, rng):
        bn = L.BatchNormalization()
        x = (rng.standard_normal((32, 4)) * 3 + 5).astype("float32")
        bn.train()
        y = bn(x).numpy()
        assert np.abs(y.mean(0)).max() < 1e-5 and np.abs(y.std(0) - 1).max() < 1e-3
        bn.eval()
        before = bn.moving_mean.numpy().copy()
        bn(x)
        np.testing.assert_array_equal(bn.moving_mean.numpy(), before)

    def test_training_step_both_styles(self, rng, sgd_step):
        x = rng.standard_normal((16, 3)).astype("float32")
        target = rng.standard_normal((16, 3)).astype("float32")
        bn = L.BatchNormalization()

        def loss():
            return gradkit.mean_squared_error(bn(x, training=True), target)

        first = loss()
        first.backward()
        sgd_step(bn, 0.5)
        second = loss()
        assert second.item() < first.item()
        with gradkit.GradientTape() as tape:
            third = loss()
        grads = tape.gradient(third, bn.trainable_weights)
        for w, g in zip(bn.trainable_weights, grads):
            w.assign_sub(0.5 * g.numpy())
        assert loss().item() < third.item()

    def test_float32_stays_float32(self, rng):
        bn = L.BatchNormalization()
        x = gradkit.Tensor(rng.standard_normal((8, 3)).astype("float32"), requires_grad=True)
        y = bn(x, training=True)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == bn.gamma.grad.dtype == np.float32
        assert bn.moving_mean.dtype == np.float32

    def test_errors(self):
        bn = L.BatchNormalization(name="bn_err")
        bn(np.zeros((2, 3)))
        with pytest.raises(ValueError, match=r"BatchNormalization 'bn_err' expected input with "
                                             r"last axis 3, received shape \(2, 4\)"):
            bn(np.zeros((2, 4)))
        with pytest.raises(ValueError, match=r"BatchNormalization 'bn_err' expected input with "
                                             r"2 axes, received shape \(2, 3, 3\)"):
            bn(np.zeros((2, 3, 3)))
        with pytest.raises(AxisError, match="axis 3 is out of range"):
            L.BatchNormalization(axis=3)(np.zeros((2, 3)))
        with pytest.raises(ValueError, match="momentum"):
            L.BatchNormalization(momentum=1.5)
        with pytest.raises(ValueError, match="epsilon"):
            L.BatchNormalization(epsilon=0)


LN_CASES = {
    # name: (shape, keras axis, torch normalized_shape)
    "last": ((4, 6), -1, (6,)),
    "seq_last": ((2, 5, 6), -1, (6,)),
    "two_axes": ((2, 5, 6), [-2, -1], (5, 6)),
    "two_axes_pos": ((3, 4, 2), [1, 2], (4, 2)),
}


class TestLayerNormalization:
    @pytest.mark.parametrize("case", list(LN_CASES))
    def test_matches_torch(self, torch, rng, case):
        shape, axis, norm_shape = LN_CASES[case]
        ln = L.LayerNormalization(axis=axis, epsilon=1e-5, dtype=F64)
        ln.build((None,) + shape[1:])
        assert ln.gamma.shape == norm_shape
        ln.gamma.assign(rng.uniform(0.5, 1.5, norm_shape))
        ln.beta.assign(rng.standard_normal(norm_shape))
        tln = torch.nn.LayerNorm(norm_shape, eps=1e-5, dtype=torch.float64)
        with torch.no_grad():
            tln.weight.copy_(torch.from_numpy(ln.gamma.numpy()))
            tln.bias.copy_(torch.from_numpy(ln.beta.numpy()))
        x = rng.standard_normal(shape) * 2 + 3
        up = rng.standard_normal(shape)
        xg = gradkit.Tensor(x, requires_grad=True)
        y = ln(xg)
        (y * gradkit.Tensor(up)).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = tln(xt)
        (yt * torch.from_numpy(up)).sum().backward()
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ln.gamma.grad.numpy(), tln.weight.grad.numpy(), rtol=1e-8)
        np.testing.assert_allclose(ln.beta.grad.numpy(), tln.bias.grad.numpy(), rtol=1e-8)
        # same at training and inference
        np.testing.assert_array_equal(ln(x, training=True).numpy(), ln(x).numpy())

    @pytest.mark.parametrize("center,scale", [(True, True), (False, False), (True, False)])
    def test_gradcheck(self, rng, layer_gradcheck, center, scale):
        ln = L.LayerNormalization(center=center, scale=scale, dtype=F64)
        ln.build((None, 2, 4))
        names = []
        if scale:
            ln.gamma.assign(rng.uniform(0.5, 1.5, 4))
            names.append("gamma")
        if center:
            ln.beta.assign(rng.standard_normal(4))
            names.append("beta")
        assert layer_gradcheck(ln, rng.standard_normal((3, 2, 4)), names)

    def test_weights_and_keras_defaults(self):
        ln = L.LayerNormalization()
        assert ln.epsilon == 1e-3
        ln(np.zeros((2, 7), "float32"))
        assert ln.trainable_weights == [ln.gamma, ln.beta] and ln.count_params() == 14

    def test_training_step(self, rng, sgd_step):
        ln = L.LayerNormalization()
        x = rng.standard_normal((8, 5)).astype("float32")
        target = rng.standard_normal((8, 5)).astype("float32")

        def loss():
            return gradkit.mean_squared_error(ln(x), target)

        first = loss()
        first.backward()
        sgd_step(ln, 0.5)
        assert loss().item() < first.item()

    def test_errors(self):
        ln = L.LayerNormalization(name="ln_err")
        ln(np.zeros((2, 3)))
        with pytest.raises(ValueError, match=r"LayerNormalization 'ln_err' expected input with "
                                             r"last axis 3, received shape \(2, 5\)"):
            ln(np.zeros((2, 5)))
        with pytest.raises(TypeError, match="axis must be an integer"):
            L.LayerNormalization(axis="last")
        with pytest.raises(ValueError, match="axis must be an int or a list of ints"):
            L.LayerNormalization(axis=[])
        with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
            L.LayerNormalization(epsilon=0.0)
