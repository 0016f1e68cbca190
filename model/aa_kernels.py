"""numba kernels of :mod:`model.aa_resize` (imported only when numba is installed).

Every value is float32 and every step rounds as torch's kernel does: ``t * w`` then ``+`` (two
roundings) where the pattern table ``nf`` says so, otherwise one fused multiply-add (LLVM's
``llvm.fma.f32``, exact on any CPU). No fastmath: LLVM may not contract or reorder anything else.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def fma32(typingctx, a, b, c):
    """float32 fused multiply-add ``a * b + c`` with a single rounding."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
        return builder.call(fn, args)

    return sig, codegen


jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@jit
def horizontal(image, offs, wts, nf, out):
    """uint8 [H, W, 3] -> float32 [H, w, 3] along the width (torch's first pass).

    ``offs`` [w, K] are the flat row offsets of every output's taps and ``wts`` [w, K] their
    weights, padded to one tap count K with weight 0 (``acc + t * 0`` and ``fma(t, 0, acc)`` are
    both exactly ``acc``), so every output runs the same loop and the branches stay predictable;
    ``nf`` [w] is each output's number of separate multiply-add steps. Rows are converted to
    float32 ``u / 255`` (torch's division) and resized two at a time, three channels together,
    so that six independent sums keep the FMA units busy."""
    H, W, C = image.shape
    w, K = wts.shape
    flat = image.reshape(H, W * C)
    rows = np.zeros((2, W * C), np.float32)
    d = np.float32(255.0)
    for y in range(0, H, 2):
        two = min(2, H - y)
        for r in range(two):
            src = flat[y + r]
            dst = rows[r]
            for x in range(W * C):
                dst[x] = np.float32(src[x]) / d
        p, q = rows[0], rows[1]
        for j in range(w):
            m = nf[j]
            o, wk = offs[j, 0], wts[j, 0]
            a0, a1, a2 = p[o] * wk, p[o + 1] * wk, p[o + 2] * wk
            b0, b1, b2 = q[o] * wk, q[o + 1] * wk, q[o + 2] * wk
            for k in range(1, m + 1):
                o, wk = offs[j, k], wts[j, k]
                a0, a1, a2 = a0 + p[o] * wk, a1 + p[o + 1] * wk, a2 + p[o + 2] * wk
                b0, b1, b2 = b0 + q[o] * wk, b1 + q[o + 1] * wk, b2 + q[o + 2] * wk
            for k in range(m + 1, K):
                o, wk = offs[j, k], wts[j, k]
                a0, a1, a2 = fma32(p[o], wk, a0), fma32(p[o + 1], wk, a1), fma32(p[o + 2], wk, a2)
                b0, b1, b2 = fma32(q[o], wk, b0), fma32(q[o + 1], wk, b1), fma32(q[o + 2], wk, b2)
            out[y, j, 0], out[y, j, 1], out[y, j, 2] = a0, a1, a2
            if two == 2:
                out[y + 1, j, 0], out[y + 1, j, 1], out[y + 1, j, 2] = b0, b1, b2


@jit
def _vertical_row(src, f, n, m, wrow, row):
    """One output row of the vertical pass over rows of ``src`` [H, L] into ``row`` [L]."""
    L = row.shape[0]
    w0 = wrow[0]
    s = src[f]
    for x in range(L):
        row[x] = s[x] * w0
    for k in range(1, n):
        wk = wrow[k]
        s = src[f + k]
        if k <= m:
            for x in range(L):
                row[x] = row[x] + s[x] * wk
        else:
            for x in range(L):
                row[x] = fma32(s[x], wk, row[x])


@jit
def _finish_row(row, dst, mean_l, std_l, mode):
    """Clip to [0, 1], then normalise ((x - mean) / std, channel-tiled) or round to uint8."""
    one, zero, scale = np.float32(1.0), np.float32(0.0), np.float32(255.0)
    for x in range(row.shape[0]):
        v = min(max(row[x], zero), one)
        if mode == 0:
            dst[x] = (v - mean_l[x]) / std_l[x]
        else:
            dst[x] = np.uint8(np.rint(v * scale))


@jit
def vertical(tmp, fy, ny, wy, nf, canvas, top, left, mean, std, mode):
    """float32 [H, w, C] (the width pass, or the converted image) -> the box of ``canvas`` along
    the height (a pass of one tap of weight 1 when the height is unchanged: a copy)."""
    H, w, C = tmp.shape
    src = tmp.reshape(H, w * C)
    row = np.empty(w * C, np.float32)
    mean_l, std_l = _tile(mean, w), _tile(std, w)
    for i in range(fy.shape[0]):
        _vertical_row(src, fy[i], ny[i], nf[ny[i]], wy[i], row)
        _finish_row(row, canvas[top + i].reshape(-1)[left * C:(left + w) * C], mean_l, std_l, mode)


@jit
def _tile(v, w):
    C = v.shape[0]
    out = np.empty(w * C, np.float32)
    for x in range(w * C):
        out[x] = v[x % C]
    return out


@jit
def pad(canvas, top, left, h, w, mean, std, mode):
    """Fill the canvas outside the box with the finished value of 0."""
    Hc, Wc, C = canvas.shape
    for y in range(Hc):
        inside = top <= y < top + h
        for x in range(Wc):
            if inside and left <= x < left + w:
                continue
            for c in range(C):
                if mode == 0:
                    canvas[y, x, c] = (np.float32(0.0) - mean[c]) / std[c]
                else:
                    canvas[y, x, c] = 0
