"""The fused CPU scans (plugins/torch/fused_scans.py) against the pure-torch forms they replace.

Outputs and every gradient are compared, on the scans alone and on whole models built
with the same seed (so the same weights) with ``kernel=fused`` and ``kernel=torch``:
float64 to 1e-10 relative, float32 to 1e-5; bfloat16 runs and stays close. Decoding
through ``step()`` must reproduce the fused full forward, and a process without numba
must run the torch path, say so in one line, and record it in the model's facts.
"""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnbench.model_api import Batch, ModelConfig
from rnnbench.plugins.torch import fused_scans
from rnnbench.plugins.torch.hawk import C as HAWK_C
from rnnbench.plugins.torch.hawk import HawkConfig, RecurrentBlock
from rnnbench.plugins.torch.minrnn import g as min_g
from rnnbench.plugins.torch.recurrence import FeedForward, causal_conv, sequential_scan
from rnnbench.torch_model import masked_loss

#: the models with a fused kernel, and the small options their tests use
FUSED_MODELS = {
    "mingru@torch": {},
    "minlstm@torch": {},
    "hawk@torch": {"chunk": 4},
    "mamba@torch": {"d_state": 4, "chunk": 4},
}
#: every pure-torch form of each model, held to the fused kernel
TORCH_FORMS = [(name, scan) for name, scans in {
    "mingru@torch": ("parallel", "sequential"), "minlstm@torch": ("parallel", "sequential"),
    "hawk@torch": ("chunked", "sequential"), "mamba@torch": ("sequential", "chunked")}.items() for scan in scans]
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def assert_relative(got, want, rtol, what):
    got, want = got.detach(), want.detach()
    scale = float(want.abs().max())
    worst = float((got.double() - want.double()).abs().max())
    assert worst <= rtol * max(scale, 1e-30), f"{what}: max diff {worst:.3g} vs scale {scale:.3g}"


def leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def gradients(fn, inputs, seed=1):
    out = fn(*inputs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(out.dtype)
    (out * weight).sum().backward()
    return out.detach(), [x.grad for x in inputs]


def diagonal_inputs(B, T, D, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, D, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(B, T, D, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(B, D, generator=g, dtype=torch.float64).to(dtype)
    return a, b, h0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [1, 2, 7, 33])
@pytest.mark.parametrize("with_h0", [True, False])
def test_diagonal_scan_matches_the_torch_recurrence_in_output_and_every_gradient(dtype, T, with_h0):
    a, b, h0 = diagonal_inputs(3, T, 5, dtype)
    if with_h0:
        fused_out, fused_grads = gradients(fused_scans.diagonal_scan, leaves(a, b, h0))
        torch_out, torch_grads = gradients(sequential_scan, leaves(a, b, h0))
    else:
        fused_out, fused_grads = gradients(fused_scans.diagonal_scan, leaves(a, b))
        torch_out, torch_grads = gradients(sequential_scan, leaves(a, b))
    assert fused_out.dtype == dtype
    assert_relative(fused_out, torch_out, RTOL[dtype], "h")
    for name, got, want in zip("a b h0".split(), fused_grads, torch_grads):
        assert got is not None and got.dtype == dtype
        assert_relative(got, want, RTOL[dtype], f"dL/d{name}")


def test_diagonal_scan_passes_gradcheck_and_takes_non_contiguous_inputs():
    a, b, h0 = diagonal_inputs(2, 5, 6, torch.float64)
    assert torch.autograd.gradcheck(fused_scans.diagonal_scan, tuple(leaves(a, b, h0)))
    # [B, D, T] transposed to [B, T, D]: not contiguous
    a_t, b_t = (x.transpose(1, 2).contiguous().transpose(1, 2) for x in (a, b))
    assert not a_t.is_contiguous()
    assert_relative(fused_scans.diagonal_scan(a_t, b_t, h0), sequential_scan(a, b, h0), 1e-12, "non-contiguous")


def test_diagonal_scan_in_bfloat16_runs_in_float32_and_stays_close():
    a, b, h0 = diagonal_inputs(2, 17, 4, torch.float32)
    low = leaves(a.bfloat16(), b.bfloat16(), h0.bfloat16())
    out, grads = gradients(fused_scans.diagonal_scan, low)
    assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
    want, want_grads = gradients(sequential_scan, leaves(*(x.float() for x in low)))
    assert_relative(out, want, 2e-2, "bfloat16 h")
    for got, ref in zip(grads, want_grads):
        assert_relative(got, ref, 5e-2, "bfloat16 gradient")


def selective_reference(dt_pre, u, A, B, C, D, z):
    """Mamba's step size, selective scan and output gate written out once more: Δ = softplus(dt_pre),
    h_t = exp(Δ_t A) h_{t-1} + Δ_t u_t B_t, y = (h_t C_t + D u_t) ⊙ SiLU(z_t)."""
    delta = F.softplus(dt_pre)
    h = torch.zeros(u.shape[0], u.shape[2], A.shape[1], dtype=u.dtype)
    ys = []
    for t in range(u.shape[1]):
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        ys.append((h * C[:, t, None, :]).sum(-1) + D * u[:, t])
    return torch.stack(ys, dim=1) * F.silu(z)


def selective_inputs(B, T, E, N, dtype, seed=0):
    """dt_pre around Mamba's initial softplus⁻¹(1e-3..1e-1), one above softplus's threshold of 20."""
    g = torch.Generator().manual_seed(seed)
    f = dict(generator=g, dtype=torch.float64)
    dt_pre = torch.randn(B, T, E, **f) * 2 - 4
    dt_pre[0, 0, 0] = 21.0
    tensors = (dt_pre, torch.randn(B, T, E, **f), -torch.rand(E, N, **f) * 2 - 0.1,
               torch.randn(B, T, N, **f), torch.randn(B, T, N, **f), torch.randn(E, **f), torch.randn(B, T, E, **f) * 2)
    return [t.to(dtype) for t in tensors]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [1, 6, 19, 70])  # 70: chunks of the backward's CHUNK = 32 and a partial one
@pytest.mark.parametrize("channels", [3, 37])
def test_selective_scan_matches_the_reference_in_output_and_every_gradient(dtype, T, channels):
    inputs = selective_inputs(2, T, channels, 4, dtype)
    fused_out, fused_grads = gradients(fused_scans.selective_scan, leaves(*inputs))
    torch_out, torch_grads = gradients(selective_reference, leaves(*inputs))
    assert fused_out.dtype == dtype and fused_out.shape == (2, T, channels)
    assert_relative(fused_out, torch_out, RTOL[dtype], "y")
    for name, got, want in zip(["dt_pre", "u", "A", "B", "C", "D", "z"], fused_grads, torch_grads):
        assert got.dtype == dtype
        assert_relative(got, want, RTOL[dtype], f"dL/d{name}")


def test_selective_scan_passes_gradcheck_and_runs_in_bfloat16():
    assert torch.autograd.gradcheck(fused_scans.selective_scan, tuple(leaves(*selective_inputs(2, 5, 3, 2,
                                                                                                  torch.float64))))
    inputs = selective_inputs(2, 9, 3, 4, torch.float32)
    out, grads = gradients(fused_scans.selective_scan, leaves(*(x.bfloat16() for x in inputs)))
    assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
    assert_relative(out, selective_reference(*inputs), 3e-2, "bfloat16 y")


# -- the gates fused with the scans, and the causal convolution --------------------------------

def min_rnn_reference(pre, cell):
    """minrnn.MinRNNLayer.coefficients written out, then the torch recurrence."""
    if cell == "mingru":
        k_z, k_h = pre.chunk(2, dim=-1)
        z = torch.sigmoid(k_z)
        return sequential_scan(1 - z, z * min_g(k_h))
    k_f, k_i, k_h = pre.chunk(3, dim=-1)
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    return sequential_scan(f / (f + i), i / (f + i) * min_g(k_h))


def gate_inputs(B, T, D, parts, dtype, seed=0):
    """Pre-activations spread over ±8 (both sides of g's kink, saturated gates), and u."""
    g = torch.Generator().manual_seed(seed)
    pre = torch.randn(B, T, parts * D, generator=g, dtype=torch.float64) * 3
    pre[0, 0, :3] = torch.tensor([8.0, -8.0, 0.0], dtype=torch.float64)
    u = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    return pre.to(dtype), u.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [1, 2, 7, 33])
@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_min_rnn_scan_equals_the_cells_torch_coefficients_and_scan_in_output_and_gradient(dtype, T, cell):
    pre, _ = gate_inputs(3, T, 5, 3 if cell == "minlstm" else 2, dtype)
    fused_out, (fused_grad,) = gradients(lambda p: fused_scans.min_rnn_scan(p, cell), leaves(pre))
    torch_out, (torch_grad,) = gradients(lambda p: min_rnn_reference(p, cell), leaves(pre))
    assert fused_out.dtype == dtype and fused_grad.dtype == dtype
    assert_relative(fused_out, torch_out, RTOL[dtype], "h")
    assert_relative(fused_grad, torch_grad, RTOL[dtype], "dL/dpre")


def hawk_blocks(d, dtype, seed=0):
    """Hawk's recurrent block with kernel=fused and with kernel=torch (the sequential scan), same weights: Λ from
    σ(Λ) = 0.05 (a far from 1: 1 - a² by a² - 1) to 0.9999 (a near 1: by expm1's polynomial), the gates'
    weights 4x recurrentgemma's so that r and i saturate, and a non-zero convolution bias."""
    torch.manual_seed(seed)
    fused = RecurrentBlock(HawkConfig(d_model=d, n_layers=1, kernel="fused")).to(dtype)
    reference = RecurrentBlock(HawkConfig(d_model=d, n_layers=1, kernel="torch", scan="sequential")).to(dtype)
    with torch.no_grad():
        fused.Lambda.copy_(torch.logit(torch.linspace(0.05, 0.9999, d, dtype=torch.float64)))
        fused.gates.weight.mul_(4.0)
        fused.conv.bias.normal_()
        reference.load_state_dict(fused.state_dict())
    return fused, reference


def block_gradients(block, x):
    out, (grad_x,) = gradients(block, leaves(x))
    return out, [grad_x] + [p.grad for p in block.parameters()]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [1, 2, 7, 33, 70])
@pytest.mark.parametrize("block_rows", [1, 150])  # a sequence a block; 150: two, then one at T = 70, else all
def test_hawks_fused_recurrent_block_equals_its_torch_block_in_output_and_every_gradient(dtype, T, block_rows,
                                                                                         monkeypatch):
    monkeypatch.setattr(fused_scans, "BLOCK_ROWS", block_rows)
    fused, reference = hawk_blocks(6, dtype)
    x = (3 * torch.randn(3, T, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)).to(dtype)
    fused_out, fused_grads = block_gradients(fused, x)
    torch_out, torch_grads = block_gradients(reference, x)
    assert fused_out.dtype == dtype and fused_out.shape == (3, T, 6)
    assert_relative(fused_out, torch_out, RTOL[dtype], "W_o (h GELU(W_g x))")
    names = ["x"] + [name for name, _ in reference.named_parameters()]
    for name, got, want in zip(names, fused_grads, torch_grads):
        assert got.dtype == dtype and got.shape == want.shape
        assert_relative(got, want, RTOL[dtype], f"dL/d{name}")


def test_hawks_fused_recurrent_block_passes_gradcheck_and_runs_in_bfloat16(monkeypatch):
    monkeypatch.setattr(fused_scans, "BLOCK_ROWS", 5)  # 3 sequences of 4: blocks of one sequence
    fused, _ = hawk_blocks(3, torch.float64)
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    inputs = [x, fused.gate.weight, fused.gate.bias, fused.inp.weight, fused.inp.bias,
              fused.conv.weight.squeeze(1).t().contiguous(), fused.conv.bias, fused.gates.weight, fused.gates.bias,
              -HAWK_C * F.softplus(-fused.Lambda), fused.out.weight, fused.out.bias]
    assert torch.autograd.gradcheck(fused_scans._HawkRecurrentBlock.apply, tuple(leaves(*inputs)))
    low, reference = hawk_blocks(4, torch.bfloat16)
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out, grads = block_gradients(low, x.bfloat16())
    assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
    assert_relative(out, reference.double()(x).detach(), 3e-2, "bfloat16 output")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T", [1, 2, 3, 9, 70])
@pytest.mark.parametrize("silu", [False, True])
def test_fused_causal_conv_equals_the_shifted_multiply_adds_in_output_and_every_gradient(dtype, T, silu):
    g = torch.Generator().manual_seed(T)
    x, weight, bias = (torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
                       for shape in ((2, T, 5), (5, 1, 4), (5,)))
    fused_out, fused_grads = gradients(lambda *a: fused_scans.fused_causal_conv(*a, silu=silu), leaves(x, weight, bias))
    activation = F.silu if silu else (lambda y: y)
    torch_out, torch_grads = gradients(lambda *a: activation(causal_conv(*a)), leaves(x, weight, bias))
    assert fused_out.dtype == dtype
    assert_relative(fused_out, torch_out, RTOL[dtype], "y")
    for name, got, want in zip(["x", "weight", "bias"], fused_grads, torch_grads):
        assert got.dtype == dtype and got.shape == want.shape
        assert_relative(got, want, RTOL[dtype], f"dL/d{name}")


def test_the_fused_gate_ops_pass_gradcheck_and_run_in_bfloat16():
    pre, u = gate_inputs(2, 5, 3, 3, torch.float64)
    checks = [(lambda p: fused_scans.min_rnn_scan(p, "minlstm"), (pre,)),
              (lambda p: fused_scans.min_rnn_scan(p, "mingru"), (pre[..., :6],)),
              (lambda *a: fused_scans.fused_causal_conv(*a, silu=True), (u, torch.randn(3, 1, 4, dtype=torch.float64),
                                                                      torch.randn(3, dtype=torch.float64)))]
    for fn, inputs in checks:
        assert torch.autograd.gradcheck(fn, tuple(leaves(*inputs)))
        low = leaves(*(x.float().bfloat16() for x in inputs))
        out, grads = gradients(fn, low)
        assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
        assert_relative(out, fn(*(x.float() for x in low)), 3e-2, "bfloat16 output")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("eps", [None, 1e-5])
def test_fused_rms_norm_equals_nn_rms_norm_in_output_and_every_gradient(dtype, eps):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 6, generator=g, dtype=torch.float64).to(dtype)
    x[0, 0] *= 1e-4  # a row of tiny values, where eps matters
    fused, reference = fused_scans.FusedRMSNorm(6, eps=eps, dtype=dtype), torch.nn.RMSNorm(6, eps=eps, dtype=dtype)
    with torch.no_grad():
        weight = torch.randn(6, generator=g, dtype=torch.float64).to(dtype)
        fused.weight.copy_(weight)
        reference.weight.copy_(weight)
    fused_out, (fused_grad,) = gradients(fused, leaves(x))
    torch_out, (torch_grad,) = gradients(reference, leaves(x))
    assert fused_out.dtype == dtype and fused_out.shape == x.shape
    assert_relative(fused_out, torch_out, RTOL[dtype], "y")
    assert_relative(fused_grad, torch_grad, RTOL[dtype], "dL/dx")
    assert_relative(fused.weight.grad, reference.weight.grad, RTOL[dtype], "dL/dweight")
    norm = fused_scans.FusedRMSNorm(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, w: fused_scans._RMSNorm.apply(x, w, 1e-6),
                                    tuple(leaves(x.double().reshape(-1, 6), norm.weight.detach() + 0.5)))
    low = fused_scans.FusedRMSNorm(6, dtype=torch.bfloat16)
    out = low(x.bfloat16())
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and low.weight.grad.dtype == torch.bfloat16


def gated_mlps(d, ratio, dtype, seed=0):
    """A FusedGatedFeedForward and recurrence.FeedForward (gated) with the same weights; the up projection's
    bias puts gates at GELU's tails and at 0."""
    torch.manual_seed(seed)
    fused = fused_scans.FusedGatedFeedForward(d, ratio).to(dtype)
    reference = FeedForward(d, ratio, gated=True).to(dtype)
    with torch.no_grad():
        fused.up.bias[:5] = torch.tensor([-40.0, -6.0, 0.0, 6.0, 40.0])
        reference.load_state_dict(fused.state_dict())
    return fused, reference


def mlp_gradients(mlp, x):
    out, (grad_x,) = gradients(mlp, leaves(x))
    return out, [grad_x] + [p.grad for p in mlp.parameters()]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gated_mlp_equals_feedforward_in_output_and_every_gradient(dtype, monkeypatch):
    monkeypatch.setattr(fused_scans, "BLOCK_ROWS", 8)  # 21 rows: blocks of 8, 8 and 5
    fused, reference = gated_mlps(6, 3, dtype)
    x = torch.randn(3, 7, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    fused_out, fused_grads = mlp_gradients(fused, x)
    torch_out, torch_grads = mlp_gradients(reference, x)
    assert fused_out.dtype == dtype and fused_out.shape == (3, 7, 6)
    assert_relative(fused_out, torch_out, RTOL[dtype], "W_down (GELU(gate) up)")
    for name, got, want in zip(["x", "W_up", "b_up", "W_down", "b_down"], fused_grads, torch_grads):
        assert_relative(got, want, RTOL[dtype], f"dL/d{name}")
        assert torch.isfinite(got).all()


def test_gated_mlp_passes_gradcheck_and_runs_in_bfloat16(monkeypatch):
    monkeypatch.setattr(fused_scans, "BLOCK_ROWS", 3)
    fused, _ = gated_mlps(4, 2, torch.float64)
    inputs = [torch.randn(7, 4, dtype=torch.float64)] + [p.detach() for p in fused.parameters()]
    assert torch.autograd.gradcheck(fused_scans._GatedMLP.apply, tuple(leaves(*inputs)))
    low, reference = gated_mlps(4, 2, torch.bfloat16)
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out, grads = mlp_gradients(low, x.bfloat16())
    assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
    assert_relative(out, reference.double()(x).detach(), 2e-2, "bfloat16 output")


# -- whole models ----------------------------------------------------------------------------

def model_config(dtype="float32", kernel="fused", layers=2, **options):
    return ModelConfig(input_kind="tokens", input_size=5, output_kind="classes", output_size=4, hidden=8,
                       layers=layers, max_seq_len=16, dtype=dtype, seed=0, lr=1e-2,
                       options={**options, "kernel": kernel})


def data(B=2, T=11):
    rng = np.random.default_rng(0)
    return Batch(rng.integers(0, 5, (B, T)), rng.integers(0, 4, (B, T)), np.ones((B, T), np.float32))


def outputs_and_gradients(model, batch):
    dev = model.to_device(batch)
    model.net.zero_grad()
    out = model.net(dev.inputs)
    masked_loss(out, dev, "cross_entropy").backward()
    return out.detach(), {n: p.grad.detach().clone() for n, p in model.net.named_parameters()}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,scan", TORCH_FORMS)
def test_a_model_with_the_fused_kernel_equals_its_torch_forms_in_outputs_and_parameter_gradients(
        registry, name, scan, dtype):
    factory = registry.models[name].factory
    fused = factory(model_config(dtype, "fused", **FUSED_MODELS[name]))
    reference = factory(model_config(dtype, "torch", scan=scan, **FUSED_MODELS[name]))
    assert fused.describe()["kernel"] == "fused" and reference.describe()["kernel"] == "torch"
    for p, q in zip(fused.net.parameters(), reference.net.parameters()):
        assert torch.equal(p, q)  # same seed, same weights
    batch = data()
    out_f, grads_f = outputs_and_gradients(fused, batch)
    out_t, grads_t = outputs_and_gradients(reference, batch)
    rtol = RTOL[fused.dtype]
    assert_relative(out_f, out_t, rtol, "outputs")
    assert grads_f.keys() == grads_t.keys()
    for key in grads_t:
        assert_relative(grads_f[key], grads_t[key], rtol, f"gradient of {key}")


@pytest.mark.parametrize("name", FUSED_MODELS)
def test_decoding_step_by_step_equals_the_fused_full_forward(registry, name):
    model = registry.models[name].factory(model_config("float64", "fused", **FUSED_MODELS[name]))
    batch = data(B=3, T=7)
    full = model.predict(model.to_device(batch))
    state = model.init_state(3)
    steps = []
    for t in range(7):
        position = Batch(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])
        out, state = model.step(model.to_device(position), state)
        steps.append(out.detach())
    np.testing.assert_allclose(torch.cat(steps, dim=1).numpy(), full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", FUSED_MODELS)
def test_bfloat16_model_trains_with_the_fused_kernel(registry, name):
    model = registry.models[name].factory(model_config("bfloat16", "fused", **FUSED_MODELS[name]))
    reference = registry.models[name].factory(model_config("float32", "fused", **FUSED_MODELS[name]))
    dev = model.to_device(data(T=6))
    np.testing.assert_allclose(model.predict(dev), reference.predict(reference.to_device(data(T=6))), atol=0.1)
    assert np.isfinite([model.train_step(dev) for _ in range(2)]).all()


@pytest.mark.parametrize("name", FUSED_MODELS)
def test_flops_count_the_scan_that_runs(registry, name):
    factory = registry.models[name].factory
    fused = factory(model_config(kernel="fused", **FUSED_MODELS[name]))
    assert fused.describe()["scan"] == "sequential"
    sequential = factory(model_config(kernel="torch", scan="sequential", **FUSED_MODELS[name]))
    assert fused.flops(64, 2) == sequential.flops(64, 2)  # the fused kernel is the sequential recurrence
    if name in ("mingru@torch", "minlstm@torch"):  # no logcumsumexp: fewer FLOPs than the log-space scan
        assert fused.flops(64, 2) < factory(model_config(kernel="torch", scan="parallel")).flops(64, 2)


@pytest.mark.parametrize("name", FUSED_MODELS)
def test_an_unknown_kernel_is_refused_in_one_line(registry, name):
    spec = registry.models[name]
    with pytest.raises(ValueError, match="kernel must be one of fused, torch"):
        spec.check_options({**spec.options, "kernel": "cuda"}, 16)
    assert spec.options["kernel"] == "fused"


def test_cuda_models_take_the_torch_path():
    assert fused_scans.resolve_kernel("fused", "cuda:0") == "torch"
    assert fused_scans.resolve_kernel("fused", "cpu") == "fused"
    assert fused_scans.resolve_kernel("torch", "cpu") == "torch"


def test_without_numba_the_torch_path_runs_with_one_warning_line_and_the_facts_say_so(registry, monkeypatch,
                                                                                       caplog):
    monkeypatch.setattr(fused_scans, "scan_kernels", None)
    monkeypatch.setattr(fused_scans, "UNAVAILABLE_REASON", "ModuleNotFoundError: No module named 'numba'")
    monkeypatch.setattr(fused_scans, "_warned", False)
    with caplog.at_level(logging.WARNING, logger=fused_scans.__name__):
        models = [registry.models[name].factory(model_config(**options)) for name, options in FUSED_MODELS.items()]
    warnings = [r for r in caplog.records if r.name == fused_scans.__name__]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert "numba" in warnings[0].getMessage() and "pure-torch" in warnings[0].getMessage()
    batch = data(T=5)
    for model in models:
        assert model.describe()["kernel"] == "torch"
        assert np.isfinite(model.train_step(model.to_device(batch)))


def whole_sequence_slices(tensor, length):
    """Slices and selects in tensor's autograd graph taken from a tensor of ``length`` positions (dim 1)."""
    seen, stack, count = set(), [tensor.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ in ("SliceBackward0", "SelectBackward0"):
            sizes = node._saved_self_sym_sizes
            count += len(sizes) > 1 and sizes[1] == length
        stack.extend(next_node for next_node, _ in node.next_functions)
    return count


@pytest.mark.parametrize("scan", ["sequential", "chunked"])
def test_mambas_torch_path_slices_no_whole_sequence_tensor_per_position(registry, scan):
    """A slice per position of a [B, T, ...] tensor makes the backward O(T²) (each slice's backward adds a
    zero tensor of the whole input): the torch path splits each such tensor once."""
    T = 16
    model = registry.models["mamba@torch"].factory(model_config(kernel="torch", scan=scan, layers=1, d_state=4,
                                                                chunk=4))
    out = model.net(model.to_device(data(T=T)).inputs)
    assert whole_sequence_slices(out, T) <= 2  # the convolution's shifted windows, not one per position
