"""ops.scaled_dot_product_attention and ops.dropout: values and gradients against PyTorch,
float64 gradcheck, masks (boolean, additive, causal, fully masked rows)."""

import numpy as np
import pytest

import gradkit as gk
from gradkit import ops
from gradkit.testing import gradcheck

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _qkv(seed=0, shape=(2, 3, 5, 4), s=6, dtype=np.float64):
    r = np.random.default_rng(seed)
    q = r.normal(size=shape).astype(dtype)
    k = r.normal(size=shape[:-2] + (s, shape[-1])).astype(dtype)
    v = r.normal(size=shape[:-2] + (s, 7)).astype(dtype)
    return q, k, v


@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "causal+bool", "scale"])
def test_attention_matches_torch(case):
    q, k, v = _qkv(s=5 if "causal" in case else 6)
    r = np.random.default_rng(1)
    mask = None
    kwargs = {}
    if "bool" in case:
        mask = r.random((5, q.shape[-2] if "causal" in case else 6)) > 0.3
        mask[:, 0] = True
    if case == "float":
        mask = r.normal(size=(1, 5, 6))
    if case == "scale":
        kwargs["scale"] = 0.3
    causal = "causal" in case
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tmask = None if mask is None else torch.tensor(mask)
    if causal and mask is not None:  # torch takes one or the other: combine by hand
        tmask = torch.tensor(np.tril(np.ones((5, 5), bool)) & mask)
        want = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, **kwargs)
    else:
        want = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, is_causal=causal,
                                              **kwargs)
    gq, gk_, gv = (gk.Tensor(a, requires_grad=True) for a in (q, k, v))
    got = ops.scaled_dot_product_attention(gq, gk_, gv, mask=mask, is_causal=causal, **kwargs)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(2).normal(size=got.shape)
    (want * torch.tensor(w)).sum().backward()
    (got * w).sum().backward()
    for a, b in ((gq, tq), (gk_, tk), (gv, tv)):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_attention_gradcheck_and_weights():
    q, k, v = _qkv(shape=(2, 3, 2), s=4)
    mask = np.array([[True, False, True, True]] * 3)
    assert gradcheck(lambda a, b, c: ops.scaled_dot_product_attention(a, b, c, mask=mask),
                     q, k, v)
    out, weights = ops.scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0)
    assert np.all(weights.numpy()[..., 1] == 0)


def test_fully_masked_row_is_zero_not_nan():
    q, k, v = _qkv(shape=(3, 4), s=5)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    qt = gk.Tensor(q, requires_grad=True)
    out = ops.scaled_dot_product_attention(qt, k, v, mask=mask)
    assert np.all(np.isfinite(out.numpy())) and np.all(out.numpy()[1] == 0)
    out.sum().backward()
    assert np.all(np.isfinite(np.asarray(qt.grad)))


def test_attention_rejects_mismatched_shapes():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="query"):
        ops.scaled_dot_product_attention(q, k[..., :3], v)


def test_dropout_mask_scale_gradient_and_seed():
    x = gk.Tensor(np.ones((200, 50)), requires_grad=True)
    y = ops.dropout(x, 0.25, seed=3)
    vals = np.unique(y.numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75])
    assert abs((y.numpy() == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), y.numpy())
    np.testing.assert_array_equal(ops.dropout(x, 0.25, seed=3).numpy(), y.numpy())
    ch = ops.dropout(np.ones((4, 3, 3, 8)), 0.5, noise_shape=(None, 1, 1, 8), seed=0).numpy()
    assert np.all(ch == ch[:, :1, :1, :])
    assert ops.dropout(x, 0.0) is x


@pytest.mark.parametrize("bad, err", [(1.0, ValueError), (-0.1, ValueError), ("a", TypeError)])
def test_dropout_rejects_bad_rate(bad, err):
    with pytest.raises(err, match="rate"):
        ops.dropout(np.ones(3), bad)
