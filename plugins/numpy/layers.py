"""Recurrent layers in NumPy: forward, backpropagation through time by hand, decoding.

Weights have torch's names, shapes and gate order, so they copy one to one from
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (see :mod:`rnnbench.plugins.numpy.convert`)::

    weight_ih_l{k}  [G·H, I]     weight_hh_l{k}  [G·H, H]
    bias_ih_l{k}    [G·H]        bias_hh_l{k}    [G·H]
    gate blocks: RNN (h), LSTM (i, f, g, o), GRU (r, z, n)

Arrays are time-major (``[T, B, ·]``) so that each step reads and writes one
contiguous block. What makes it fast enough to compare with torch:

* the input projections of all time steps are one GEMM before the loop, and the
  weight gradients ``dW_ih``, ``dW_hh`` and ``dx`` are three GEMMs after the
  backward loop: inside the loops only the recurrent GEMM ``h_{t-1} W_hh^T`` runs;
* every buffer is allocated once per shape (:class:`Workspace`) and written with ``out=``;
* all sigmoid and tanh gates of a step go through one ``np.tanh`` over the gate
  block, using σ(z) = ½·tanh(z/2) + ½: the sigmoid gates' columns of the weights
  are scaled by ½ once per call (the parameters themselves keep torch's values,
  so gradients and Adam behave exactly as torch's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: gate blocks per architecture, in torch's order
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class Workspace:
    """Buffers reused by every call of the same shape, so the loops allocate nothing."""

    def __init__(self, dtype: np.dtype):
        self.dtype = np.dtype(dtype)
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, key: Any, shape: tuple[int, ...]) -> np.ndarray:
        array = self._arrays.get((key, shape))
        if array is None:
            array = self._arrays[(key, shape)] = np.empty(shape, self.dtype)
        return array

    def zeros(self, key: Any, shape: tuple[int, ...]) -> np.ndarray:
        array = self.get(key, shape)
        array.fill(0)
        return array

    def clear(self) -> None:
        """Drop every buffer (so that a memory measurement sees them allocated again)."""
        self._arrays.clear()


class Parameters:
    """All trainable arrays as views into one flat vector, and their gradients likewise.

    One flat vector makes gradient clipping and Adam a handful of vector operations
    whatever the number of parameters. Names are torch's ``state_dict`` keys.
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: np.dtype):
        total = sum(int(np.prod(shape)) for shape in shapes.values())
        self.dtype = np.dtype(dtype)
        self.data = np.zeros(total, self.dtype)
        self.grad = np.zeros(total, self.dtype)
        self.values: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            self.values[name] = self.data[offset:offset + size].reshape(shape)
            self.grads[name] = self.grad[offset:offset + size].reshape(shape)
            offset += size

    def __len__(self) -> int:
        return int(self.data.size)


def layer_shapes(arch: str, input_size: int, hidden: int, layers: int, prefix: str = "") -> dict[str, tuple]:
    """torch's parameter names and shapes for a stack of ``layers`` recurrent layers."""
    G = GATES[arch]
    shapes: dict[str, tuple] = {}
    for k in range(layers):
        width_in = input_size if k == 0 else hidden
        shapes[f"{prefix}weight_ih_l{k}"] = (G * hidden, width_in)
        shapes[f"{prefix}weight_hh_l{k}"] = (G * hidden, hidden)
        shapes[f"{prefix}bias_ih_l{k}"] = (G * hidden,)
        shapes[f"{prefix}bias_hh_l{k}"] = (G * hidden,)
    return shapes


def init_layers(params: Parameters, arch: str, hidden: int, layers: int, rng: np.random.Generator,
                prefix: str = "") -> None:
    """torch's initialisation: every weight and bias ~ U(-1/√H, 1/√H); the bias of the gate that
    keeps the state (the LSTM's forget gate, the GRU's update gate, both the second block) starts
    at 1, as in rnnbench's torch LSTM and GRU (their default ``gate_bias``)."""
    bound = 1.0 / np.sqrt(hidden)
    for k in range(layers):
        for kind in WEIGHT_KINDS:
            array = params.values[f"{prefix}{kind}_l{k}"]
            array[...] = rng.uniform(-bound, bound, size=array.shape)
        if arch in ("lstm", "gru"):
            params.values[f"{prefix}bias_ih_l{k}"][hidden:2 * hidden] = 1.0
            params.values[f"{prefix}bias_hh_l{k}"][hidden:2 * hidden] = 0.0


class RecurrentLayer:
    """One layer; subclasses write the step equations. ``forward`` returns the output
    ``[T, B, H]`` (a workspace view, valid until the next call) and what ``backward`` needs."""

    arch = ""
    #: gate blocks that are sigmoids, computed as ½·tanh(z/2) + ½
    sigmoid_gates: tuple[int, ...] = ()
    #: when set (by the gradient probe), backward adds Σ_units (dL/dh_t)² (and (dL/dc_t)² for
    #: the LSTM) of each example into ``state_gradient_sink[t, b]``; None in training
    state_gradient_sink: np.ndarray | None = None

    def __init__(self, params: Parameters, prefix: str, index: int, input_size: int, hidden: int,
                 workspace: Workspace):
        self.input_size, self.hidden = input_size, hidden
        self.gates = GATES[self.arch]
        self.key = (prefix, index)
        self.ws = workspace
        names = [f"{prefix}{kind}_l{index}" for kind in WEIGHT_KINDS]
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = (params.values[n] for n in names)
        self.g_w_ih, self.g_w_hh, self.g_b_ih, self.g_b_hh = (params.grads[n] for n in names)
        dtype = params.dtype
        H = hidden
        # pre-activation scale s: ½ on sigmoid gates, 1 on tanh gates
        self.scale = np.ones(self.gates * H, dtype)
        for gate in self.sigmoid_gates:
            self.scale[gate * H:(gate + 1) * H] = 0.5
        # after tanh(s ⊙ z): sigmoid gates map th -> ½·th + ½, tanh gates stay th
        self.act_mul = self.scale.copy()
        self.act_add = np.where(self.scale == 0.5, 0.5, 0.0).astype(dtype)

    def buf(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        return self.ws.get((self.key, name), shape)

    def scaled_recurrent_weight(self) -> np.ndarray:
        """R_s = (s ⊙ W_hh)^T, [H, G·H], C-contiguous for the per-step GEMM."""
        R = self.buf("R_s", (self.hidden, self.gates * self.hidden))
        np.multiply(self.w_hh.T, self.scale, out=R)
        return R

    def project_inputs(self, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Z = s ⊙ (x W_ih^T + bias) for all T steps in one GEMM: [T, B, G·H]."""
        T, B, I = x.shape
        GH = self.gates * self.hidden
        W = self.buf("W_s", (I, GH))
        np.multiply(self.w_ih.T, self.scale, out=W)
        Z = self.buf("Z", (T, B, GH))
        np.matmul(x.reshape(T * B, I), W, out=Z.reshape(T * B, GH))
        Z += bias * self.scale
        return Z

    def hidden_states(self, T: int, B: int, h0: np.ndarray | None) -> np.ndarray:
        """[T+1, B, H]: h_0 then the output of every step."""
        Hs = self.buf("H", (T + 1, B, self.hidden))
        if h0 is None:
            Hs[0].fill(0)
        else:
            Hs[0] = h0
        return Hs

    def weight_gradients(self, x: np.ndarray, Hs: np.ndarray, dZx: np.ndarray, dZh: np.ndarray) -> np.ndarray:
        """After the backward loop: dW_ih, dW_hh, biases and dx as whole-sequence GEMMs.

        ``dZx`` / ``dZh`` are dL/d(pre-activation) of the input and recurrent halves
        ([T, B, G·H]; the same array except for the GRU's candidate gate).
        """
        T, B, I = x.shape
        GH = self.gates * self.hidden
        x2 = x.reshape(T * B, I)
        dZx2, dZh2 = dZx.reshape(T * B, GH), dZh.reshape(T * B, GH)
        np.matmul(dZx2.T, x2, out=self.g_w_ih)                                      # dW_ih = Σ_t dz_tᵀ x_t
        np.matmul(dZh2.T, Hs[:-1].reshape(T * B, self.hidden), out=self.g_w_hh)    # dW_hh = Σ_t dz_tᵀ h_{t-1}
        np.sum(dZx2, axis=0, out=self.g_b_ih)                                       # db = Σ_t dz_t
        if dZh is dZx:  # RNN and LSTM: both biases enter the same pre-activation
            self.g_b_hh[...] = self.g_b_ih
        else:
            np.sum(dZh2, axis=0, out=self.g_b_hh)
        dx = self.buf("dx", (T, B, I))
        np.matmul(dZx2, self.w_ih, out=dx.reshape(T * B, I))                        # dx_t = dz_t W_ih
        return dx


class RNNLayer(RecurrentLayer):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    arch = "rnn"

    def forward(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any, Any]:
        T, B, _ = x.shape
        Z = self.project_inputs(x, self.b_ih + self.b_hh)
        R = self.scaled_recurrent_weight()
        Hs = self.hidden_states(T, B, state)
        for t in range(T):
            h = Hs[t + 1]
            np.matmul(Hs[t], R, out=h)
            h += Z[t]
            np.tanh(h, out=h)                                   # h_t = tanh(z_t)
        return Hs[1:], Hs[T], (x, Hs)

    def backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        x, Hs = cache
        T, B, H = dy.shape
        dZ = self.buf("dZ", (T, B, H))
        dh = self.buf("dh", (B, H))
        dh_next = self.ws.zeros((self.key, "dh_next"), (B, H))
        tmp = self.buf("tmp", (B, H))
        for t in range(T - 1, -1, -1):
            np.add(dh_next, dy[t], out=dh)                      # dL/dh_t: from above and from t+1
            if self.state_gradient_sink is not None:
                self.state_gradient_sink[t] += np.einsum("bh,bh->b", dh, dh)
            h = Hs[t + 1]
            np.multiply(h, h, out=tmp)
            np.subtract(1, tmp, out=tmp)
            np.multiply(dh, tmp, out=dZ[t])                     # dz_t = dh_t ⊙ (1 - h_t²)
            np.matmul(dZ[t], self.w_hh, out=dh_next)            # dh_{t-1} = dz_t W_hh
        return self.weight_gradients(x, Hs, dZ, dZ)


class LSTMLayer(RecurrentLayer):
    """LSTM (Hochreiter & Schmidhuber 1997), torch's gate order i, f, g, o."""

    arch = "lstm"
    sigmoid_gates = (0, 1, 3)

    def forward(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any, Any]:
        T, B, _ = x.shape
        H = self.hidden
        A = self.project_inputs(x, self.b_ih + self.b_hh)      # becomes the gate activations
        R = self.scaled_recurrent_weight()
        h0, c0 = state if state is not None else (None, None)
        Hs = self.hidden_states(T, B, h0)
        C = self.buf("C", (T + 1, B, H))
        if c0 is None:
            C[0].fill(0)
        else:
            C[0] = c0
        tanh_C = self.buf("tanh_C", (T, B, H))
        rec = self.buf("rec", (B, 4 * H))
        ig = self.buf("ig", (B, H))
        mul, add = self.act_mul, self.act_add
        for t in range(T):
            a = A[t]
            np.matmul(Hs[t], R, out=rec)
            a += rec                                            # s ⊙ (W_ih x_t + W_hh h_{t-1} + b)
            np.tanh(a, out=a)
            a *= mul
            a += add                                            # i, f, o = σ(·) = ½tanh(·/2)+½;  g = tanh(·)
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = C[t + 1]
            np.multiply(f, C[t], out=c)
            np.multiply(i, g, out=ig)
            c += ig                                             # c_t = f ⊙ c_{t-1} + i ⊙ g
            np.tanh(c, out=tanh_C[t])
            np.multiply(o, tanh_C[t], out=Hs[t + 1])            # h_t = o ⊙ tanh(c_t)
        return Hs[1:], (Hs[T], C[T]), (x, Hs, C, tanh_C, A)

    def backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        x, Hs, C, tanh_C, A = cache
        T, B, H = dy.shape
        dA = self.buf("dA", (T, B, 4 * H))
        dh = self.buf("dh", (B, H))
        dh_next = self.ws.zeros((self.key, "dh_next"), (B, H))
        dc = self.ws.zeros((self.key, "dc"), (B, H))
        tmp = self.buf("tmp", (B, H))
        D = self.buf("D", (B, 4 * H))
        D_g = D[:, 2 * H:3 * H]
        for t in range(T - 1, -1, -1):
            a = A[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            tc = tanh_C[t]
            np.add(dh_next, dy[t], out=dh)                      # dL/dh_t
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp                                           # dc_t += dh_t ⊙ o ⊙ (1 - tanh²c_t)
            if self.state_gradient_sink is not None:            # dh and dc are now the totals at t
                self.state_gradient_sink[t] += np.einsum("bh,bh->b", dh, dh) + np.einsum("bh,bh->b", dc, dc)
            np.subtract(1, a, out=D)
            D *= a                                              # σ' = σ(1-σ) for i, f, o
            np.multiply(g, g, out=D_g)
            np.subtract(1, D_g, out=D_g)                        # tanh' = 1 - g² for g
            da = dA[t]
            np.multiply(dc, g, out=da[:, :H])                   # di = dc ⊙ g
            np.multiply(dc, C[t], out=da[:, H:2 * H])           # df = dc ⊙ c_{t-1}
            np.multiply(dc, i, out=da[:, 2 * H:3 * H])          # dg = dc ⊙ i
            np.multiply(dh, tc, out=da[:, 3 * H:])              # do = dh ⊙ tanh(c_t)
            da *= D                                             # through the nonlinearities
            dc *= f                                             # dc_{t-1} = dc_t ⊙ f
            np.matmul(da, self.w_hh, out=dh_next)               # dh_{t-1} = dz_t W_hh
        return self.weight_gradients(x, Hs, dA, dA)


class GRULayer(RecurrentLayer):
    """GRU (Cho et al. 2014) as torch computes it, gate order r, z, n:
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn)), h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}."""

    arch = "gru"
    sigmoid_gates = (0, 1)

    def forward(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any, Any]:
        T, B, _ = x.shape
        H = self.hidden
        # r and z take both biases; n takes b_in here and b_hn inside r ⊙ (·)
        bias = self.b_ih.copy()
        bias[:2 * H] += self.b_hh[:2 * H]
        Zx = self.project_inputs(x, bias)
        R = self.scaled_recurrent_weight()
        b_hn = self.b_hh[2 * H:]
        Hs = self.hidden_states(T, B, state)
        RZ = self.buf("RZ", (T, B, 2 * H))
        N = self.buf("N", (T, B, H))
        HN = self.buf("HN", (T, B, H))
        rec = self.buf("rec", (B, 3 * H))
        mul, add = self.act_mul[:2 * H], self.act_add[:2 * H]
        for t in range(T):
            zx = Zx[t]
            np.matmul(Hs[t], R, out=rec)
            rz = RZ[t]
            np.add(zx[:, :2 * H], rec[:, :2 * H], out=rz)
            np.tanh(rz, out=rz)
            rz *= mul
            rz += add                                           # r, z = σ(W_i x + b_i + W_h h + b_h)
            r, z = rz[:, :H], rz[:, H:]
            np.add(rec[:, 2 * H:], b_hn, out=HN[t])            # W_hn h_{t-1} + b_hn
            n = N[t]
            np.multiply(r, HN[t], out=n)
            n += zx[:, 2 * H:]
            np.tanh(n, out=n)                                   # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
            h = Hs[t + 1]
            np.subtract(Hs[t], n, out=h)
            h *= z
            h += n                                              # h_t = n + z ⊙ (h_{t-1} - n)
        return Hs[1:], Hs[T], (x, Hs, RZ, N, HN)

    def backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        x, Hs, RZ, N, HN = cache
        T, B, H = dy.shape
        dZx = self.buf("dZx", (T, B, 3 * H))
        dZh = self.buf("dZh", (T, B, 3 * H))
        dh = self.buf("dh", (B, H))
        dh_next = self.ws.zeros((self.key, "dh_next"), (B, H))
        tmp = self.buf("tmp", (B, H))
        tmp2 = self.buf("tmp2", (B, H))
        D = self.buf("D", (B, 2 * H))
        for t in range(T - 1, -1, -1):
            rz = RZ[t]
            r, z, n = rz[:, :H], rz[:, H:], N[t]
            dzx, dzh = dZx[t], dZh[t]
            da_n = dzx[:, 2 * H:]
            np.add(dh_next, dy[t], out=dh)                      # dL/dh_t
            if self.state_gradient_sink is not None:
                self.state_gradient_sink[t] += np.einsum("bh,bh->b", dh, dh)
            np.subtract(1, rz, out=D)
            D *= rz                                             # σ' = σ(1-σ) for r and z
            np.subtract(1, z, out=tmp)
            tmp *= dh                                           # dn = dh ⊙ (1 - z)
            np.multiply(n, n, out=tmp2)
            np.subtract(1, tmp2, out=tmp2)
            np.multiply(tmp, tmp2, out=da_n)                    # da_n = dn ⊙ (1 - n²)
            np.subtract(Hs[t], n, out=tmp)
            tmp *= dh                                           # dz = dh ⊙ (h_{t-1} - n)
            np.multiply(tmp, D[:, H:], out=dzh[:, H:2 * H])
            np.multiply(da_n, HN[t], out=tmp)                   # dr = da_n ⊙ (W_hn h_{t-1} + b_hn)
            np.multiply(tmp, D[:, :H], out=dzh[:, :H])
            np.multiply(da_n, r, out=dzh[:, 2 * H:])            # d(W_hn h + b_hn) = da_n ⊙ r
            dzx[:, :2 * H] = dzh[:, :2 * H]                     # r and z: same gradient on both halves
            np.matmul(dzh, self.w_hh, out=dh_next)
            np.multiply(dh, z, out=tmp)
            dh_next += tmp                                      # dh_{t-1} = dz_h W_hh + dh ⊙ z
        return self.weight_gradients(x, Hs, dZx, dZh)


LAYER_CLASSES = {"rnn": RNNLayer, "lstm": LSTMLayer, "gru": GRULayer}


class RecurrentStack:
    """``layers`` recurrent layers, like ``nn.LSTM(I, H, num_layers)`` with time-major arrays.

    State is ``h [L, B, H]`` (``(h, c)`` for the LSTM), as torch's. The stack can own its
    parameters (``params=None``) or use those of a model (names under ``prefix``).
    """

    def __init__(self, arch: str, input_size: int, hidden: int, layers: int, dtype: Any = np.float32,
                 params: Parameters | None = None, prefix: str = "", workspace: Workspace | None = None,
                 seed: int = 0):
        if arch not in LAYER_CLASSES:
            raise ValueError(f"unknown recurrent architecture {arch!r}; expected one of {sorted(LAYER_CLASSES)}")
        self.arch, self.input_size, self.hidden, self.num_layers = arch, input_size, hidden, layers
        if params is None:
            params = Parameters(layer_shapes(arch, input_size, hidden, layers, prefix), np.dtype(dtype))
            init_layers(params, arch, hidden, layers, np.random.default_rng(seed), prefix)
        self.params = params
        self.prefix = prefix
        self.ws = workspace if workspace is not None else Workspace(params.dtype)
        cls = LAYER_CLASSES[arch]
        self.layers = [cls(params, prefix, k, input_size if k == 0 else hidden, hidden, self.ws)
                       for k in range(layers)]

    def zero_state(self, batch_size: int) -> Any:
        h = np.zeros((self.num_layers, batch_size, self.hidden), self.params.dtype)
        return (h, np.zeros_like(h)) if self.arch == "lstm" else h

    def _layer_state(self, state: Any, k: int) -> Any:
        if state is None:
            return None
        if self.arch == "lstm":
            return state[0][k], state[1][k]
        return state[k]

    def forward(self, x: np.ndarray, state: Any = None) -> tuple[np.ndarray, Any, list]:
        """x ``[T, B, I]`` -> (output ``[T, B, H]``, final state (new arrays), caches for backward).

        Inference keeps the same per-step arrays as training: the outputs of every step
        are needed by the next layer and the head anyway, and one code path is one to test.
        """
        caches, finals = [], []
        for k, layer in enumerate(self.layers):
            x, final, cache = layer.forward(x, self._layer_state(state, k))
            caches.append(cache)
            finals.append(final)
        if self.arch == "lstm":
            final_state = (np.stack([h for h, _ in finals]), np.stack([c for _, c in finals]))
        else:
            final_state = np.stack(finals)
        return x, final_state, caches

    def backward(self, dy: np.ndarray, caches: list) -> np.ndarray:
        """dL/d(output) ``[T, B, H]`` -> dL/dx ``[T, B, I]``; writes every layer's gradients."""
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            dy = layer.backward(dy, cache)
        return dy
