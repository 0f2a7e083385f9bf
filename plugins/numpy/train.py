"""Training without autograd: masked losses with their gradients, clipping, Adam.

Each matches its torch counterpart in rnnbench's torch models: the losses of
``rnnbench.torch_model.masked_loss`` (mean over masked positions),
``torch.nn.utils.clip_grad_norm_`` and ``torch.optim.Adam`` (default betas, eps=1e-8).
"""

from __future__ import annotations

import numpy as np
from rnnbench.plugins.numpy.layers import Parameters


def masked_cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy (nats) over masked positions, and dL/dlogits.

    logits ``[N, C]``, targets ``[N]`` int, mask ``[N]``.
    """
    rows = np.arange(len(targets))
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(axis=1, keepdims=True)
    per_position = np.log(total[:, 0]) - shifted[rows, targets]   # -log softmax(logits)[target]
    denom = max(float(mask.sum()), 1.0)                            # torch: mask.sum().clamp_min(1)
    loss = float((per_position * mask).sum() / denom)
    probs /= total
    probs[rows, targets] -= 1                                      # dCE/dlogits = softmax - onehot
    probs *= (mask / denom)[:, None]
    return loss, probs


def masked_mse(outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over masked positions of the squared error averaged over outputs, and its gradient.

    outputs and targets ``[N, O]``, mask ``[N]``.
    """
    diff = outputs - targets
    per_position = (diff * diff).mean(axis=1)                      # mean_o (y - t)²
    denom = max(float(mask.sum()), 1.0)
    loss = float((per_position * mask).sum() / denom)
    grad = diff * (2.0 / outputs.shape[1]) * (mask / denom)[:, None]
    return loss, grad.astype(outputs.dtype, copy=False)


def clip_grad_norm(grad: np.ndarray, max_norm: float) -> float:
    """Scale the flat gradient so its L2 norm is at most ``max_norm``; return the norm before.

    As ``torch.nn.utils.clip_grad_norm_``: coefficient max_norm / (norm + 1e-6), clamped to 1.
    """
    norm = float(np.sqrt(np.dot(grad, grad)))
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        grad *= coef
    return norm


class Adam:
    """Adam (Kingma & Ba 2015) with torch.optim.Adam's arithmetic, on a flat parameter vector.

    m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;
    p ← p - (lr / (1-β₁ᵗ)) · m / (√v / √(1-β₂ᵗ) + ε)
    """

    def __init__(self, params: Parameters, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = np.zeros_like(params.data)
        self.v = np.zeros_like(params.data)
        self._tmp = np.empty_like(params.data)
        self.steps = 0

    def step(self) -> None:
        beta1, beta2 = self.betas
        g, m, v, tmp = self.params.grad, self.m, self.v, self._tmp
        self.steps += 1
        m *= beta1
        np.multiply(g, 1 - beta1, out=tmp)
        m += tmp
        v *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v += tmp
        step_size = self.lr / (1 - beta1 ** self.steps)
        np.sqrt(v, out=tmp)
        tmp /= np.sqrt(1 - beta2 ** self.steps)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        self.params.data -= tmp
