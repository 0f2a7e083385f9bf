"""lstm@triton's layer for training: the recurrence's kernels inside a torch.autograd.Function.

The input projection of all steps and the weight, bias and input gradients are large
torch GEMMs; the recurrence, forward and backward through time, is launched by
:mod:`rnnbench.plugins.triton.launchers`.
"""

from __future__ import annotations

import torch

from rnnbench.plugins.triton import launchers, planning


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer for training: x [T, B, I] (time-major), weights as nn.LSTM's, h0, c0 [B, H].

    Returns (hs [T, B, H], h_n, c_n). The input projection of all steps is one GEMM
    (torch); the recurrence runs in the Triton kernels (:mod:`launchers`), forward and backward.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, plan):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        xw = (x.reshape(T * B, -1) @ w_ih.t()).view(T, B, 4 * H)  # x_t·W_ihᵀ for every t at once
        w_hh = w_hh.contiguous()
        hs, c_n, cs, gates = launchers.lstm_layer_forward(xw, w_hh, b_ih, b_hh, h0, c0, save=True, plan=plan)
        ctx.save_for_backward(x, w_ih, w_hh, h0, c0, hs, cs, gates)
        ctx.plan = plan
        return hs, hs[T - 1].clone(), c_n

    @staticmethod
    def backward(ctx, d_hs, d_hn, d_cn):
        x, w_ih, w_hh, h0, c0, hs, cs, gates = ctx.saved_tensors
        T, B, H = hs.shape
        dy = torch.zeros_like(hs) if d_hs is None else d_hs.contiguous().clone()
        if d_hn is not None:
            dy[T - 1] += d_hn
        dc_last = torch.zeros(B, H, device=x.device, dtype=torch.float32) if d_cn is None else d_cn
        dgates, dc0 = launchers.lstm_layer_backward(dy, w_hh, c0, cs, gates, dc_last, ctx.plan)
        flat = dgates.reshape(T * B, 4 * H)
        d_x = (flat @ w_ih).view_as(x)  # δx_t = δgates_t·W_ih
        d_w_ih = flat.t() @ x.reshape(T * B, -1)  # Σ_t δgates_tᵀ·x_t
        d_w_hh = dgates[0].t() @ h0  # Σ_t δgates_tᵀ·h_{t-1}: h_{-1} = h0, then h_0 … h_{T-2}
        if T > 1:
            d_w_hh = torch.addmm(d_w_hh, dgates[1:].reshape(-1, 4 * H).t(), hs[:T - 1].reshape(-1, H))
        d_b = flat.sum(dim=0, dtype=torch.float32).to(x.dtype)
        d_h0 = dgates[0] @ w_hh
        return d_x, d_w_ih, d_w_hh, d_b, d_b.clone(), d_h0, dc0.to(c0.dtype), None


def lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, design: str = "auto", precision: str | None = None):
    """One layer, time-major: returns (hs [T, B, H], h_n, c_n).

    Saves for the backward only when a gradient can flow: grad mode on and an input
    that requires it (inside an autograd.Function grad mode is always off, so the choice
    is made here). At inference the kernel keeps nothing but h_t and c_n.
    """
    T, B, _ = x.shape
    H = w_hh.shape[1]
    plan = planning.plan_for(B, H, x.dtype, x.device, design, precision)
    inputs = (x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return LSTMLayerFunction.apply(*inputs, plan)
    xw = (x.reshape(T * B, -1) @ w_ih.t()).view(T, B, 4 * H)
    hs, c_n, _, _ = launchers.lstm_layer_forward(xw, w_hh.contiguous(), b_ih, b_hh, h0, c0, save=False, plan=plan)
    return hs, hs[T - 1], c_n
