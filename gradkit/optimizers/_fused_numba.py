"""The update rules as single-pass numba loops (imported by ``fused.py`` on first use only).

Each loop reads every element of ``p``, ``g`` and the state once and writes it once,
where the NumPy kernels make six to twelve passes. The arithmetic follows the NumPy
kernels operation by operation, in the arrays' dtype (the wrapper hands the scalars
over in that dtype), so the two paths agree to rounding. Arrays arrive flat and
contiguous; arguments a rule variant does not use are passed as ``p`` and ignored.
``cache=True`` keeps the machine code between processes; nothing compiles until a
loop is first called.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sgd(p, g, m, lr, mu, use_momentum, nesterov):
    for i in range(p.size):
        s = g[i] * lr                       # s = lr g
        if not use_momentum:
            p[i] = p[i] - s                 # p <- p - lr g
            continue
        mi = m[i] * mu - s                  # m <- mu m - lr g
        m[i] = mi
        if nesterov:
            p[i] = (p[i] - s) + mi * mu     # p <- p - lr g + mu m
        else:
            p[i] = p[i] + mi                # p <- p + m


@numba.njit(cache=True, nogil=True, error_model="numpy")
def rmsprop(p, g, v, mom, mg, lr, rho, one_m_rho, eps, mu, use_momentum, centered):
    for i in range(p.size):
        gi = g[i]
        vi = v[i] * rho + (gi * gi) * one_m_rho     # v <- rho v + (1 - rho) g^2
        v[i] = vi
        if centered:
            mgi = mg[i] * rho + gi * one_m_rho      # mg <- rho mg + (1 - rho) g
            mg[i] = mgi
            d = (vi - mgi * mgi) + eps
        else:
            d = vi + eps
        s = (gi / np.sqrt(d)) * lr  # host: numba; lr g / sqrt(d)
        if use_momentum:
            mi = mom[i] * mu + s                    # mom <- momentum mom + step
            mom[i] = mi
            p[i] = p[i] - mi
        else:
            p[i] = p[i] - s


@numba.njit(cache=True, nogil=True, error_model="numpy")
def adam(p, g, m, v, vmax, alpha, b1, one_m_b1, b2, one_m_b2, eps, amsgrad):
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_m_b1              # m <- beta_1 m + (1 - beta_1) g
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * one_m_b2       # v <- beta_2 v + (1 - beta_2) g^2
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)                   # v_max <- max(v_max, v)
            vmax[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) + eps)) * alpha  # host: numba, NumPy arrays only


@numba.njit(cache=True, nogil=True, error_model="numpy")
def nadam(p, g, m, v, c_m, c_g, inv_bc2, b1, one_m_b1, b2, one_m_b2, eps):
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_m_b1
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * one_m_b2
        v[i] = vi
        d = np.sqrt(vi * inv_bc2) + eps  # host: numba; sqrt(v_hat) + eps
        pi = p[i] - (gi / d) * c_g
        p[i] = pi - (mi / d) * c_m


@numba.njit(cache=True, nogil=True, error_model="numpy")
def adagrad(p, g, a, lr, eps):
    for i in range(p.size):
        gi = g[i]
        ai = a[i] + gi * gi                         # a <- a + g^2
        a[i] = ai
        p[i] = p[i] - (gi / np.sqrt(ai + eps)) * lr  # host: numba, NumPy arrays only
