"""Each modern block starts as its official reference code starts, and the gated cells share one gate-bias rule.

The references (file and commit in docs/models.md, "deviations from the reference"):
recurrentgemma's RG-LRU block for Hawk, state-spaces/mamba's Mamba block and ``_init_weights``,
flash-linear-attention's DeltaNet layer, NX-AI/xlstm's mLSTM and sLSTM cells. Initial
parameter statistics are checked as those files state them, and the arithmetic that changed
(Hawk's reset at the start, DeltaNet's feature maps, the mLSTM normaliser's ε) against a
naive recurrence written here from the equations, in float64.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnbench.model_api import ModelConfig


def build(registry, name, hidden=16, layers=2, input_kind="tokens", dtype="float32", **options):
    config = ModelConfig(input_kind=input_kind, input_size=5, output_kind="classes", output_size=4, hidden=hidden,
                         layers=layers, max_seq_len=16, dtype=dtype, seed=0, lr=1e-3, options=options)
    return registry.models[name].factory(config)


# -- Hawk (recurrentgemma, RG-LRU) -----------------------------------------------------------------
def test_hawk_starts_with_a_in_the_ring_0_9_to_0_999_as_recurrentgemma(registry):
    a = torch.cat([torch.sigmoid(block.Lambda.detach()) for block in
                   build(registry, "hawk@torch", hidden=512, layers=2).net.core.mixers])
    assert a.min() >= 0.9 - 1e-6 and a.max() <= 0.999 + 1e-6
    # a² uniform in [0.81, 0.998]: mean of a² 0.904, so the decay at r = 1, a^8, averages about 0.69
    assert (a ** 2).mean().item() == pytest.approx((0.9 ** 2 + 0.999 ** 2) / 2, abs=0.01)
    assert 0.64 < (a ** 8).mean().item() < 0.74


def test_hawk_a_init_paper_puts_a_to_the_c_in_0_9_to_0_999(registry):
    a = torch.sigmoid(build(registry, "hawk@torch", hidden=512, layers=1, a_init="paper")
                      .net.core.mixers[0].Lambda.detach())
    a_c = a.double() ** 8
    assert a_c.min() >= 0.9 - 1e-6 and a_c.max() <= 0.999 + 1e-6 and a_c.mean().item() == pytest.approx(0.95, abs=0.01)


def test_hawk_projections_start_as_recurrentgemmas(registry):
    d, L = 256, 4
    stack = build(registry, "hawk@torch", hidden=d, layers=L).net.core
    block, mlp = stack.mixers[0], stack.mlps[0]
    for layer, std in ((block.gate, d ** -0.5), (block.inp, d ** -0.5), (block.gates, d ** -0.5),
                       (block.out, math.sqrt(2 / L / d)), (block.conv, math.sqrt(0.01 / 4)),
                       (mlp.up, d ** -0.5), (mlp.down, math.sqrt(2 / L / (3 * d)))):
        assert layer.weight.std().item() == pytest.approx(std, rel=0.1)
        assert torch.all(layer.bias == 0)


def test_hawk_resets_at_the_start_without_scaling_the_first_input(registry):
    """h_0 = i_0 ⊙ u_0, h_t = a_t h_{t-1} + √(1 - a_t²) ⊙ i_t ⊙ u_t: recurrentgemma's RG-LRU with segment_pos."""
    model = build(registry, "hawk@torch", hidden=8, layers=1, dtype="float64", input_kind="features")
    block = model.net.core.mixers[0]
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    with torch.no_grad():
        got = block(x)
        v = block.inp(x)
        w = block.conv.weight.squeeze(1)  # [d, K]: u_t = Σ_j w_j v_{t-3+j} + bias
        u = torch.stack([sum(w[:, j] * v[:, t - 3 + j] for j in range(4) if t - 3 + j >= 0) + block.conv.bias
                         for t in range(6)], dim=1)
        r, i = torch.sigmoid(block.gates(u)).chunk(2, dim=-1)
        a = torch.sigmoid(block.Lambda) ** (8 * r)
        h = i[:, 0] * u[:, 0]
        hs = [h]
        for t in range(1, 6):
            h = a[:, t] * h + torch.sqrt(1 - a[:, t] ** 2) * i[:, t] * u[:, t]
            hs.append(h)
        want = block.out(torch.stack(hs, dim=1) * F.gelu(block.gate(x)))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    # decoding starts the same way: its state carries the first-position flag
    state = block.init_state(3, x.device, x.dtype)
    outs = []
    with torch.no_grad():
        for t in range(6):
            y, state = block.step(x[:, t:t + 1], state)
            outs.append(y)
    torch.testing.assert_close(torch.cat(outs, dim=1), want, rtol=1e-10, atol=1e-12)


# -- Mamba (state-spaces/mamba) --------------------------------------------------------------------
def test_mamba_projections_have_no_bias_and_w_out_is_rescaled_by_sqrt_layers(registry):
    d, L = 64, 4
    model = build(registry, "mamba@torch", hidden=d, layers=L)
    mixer = model.net.core.mixers[0]
    E, R = 2 * d, math.ceil(d / 16)
    assert mixer.in_proj.bias is None and mixer.out_proj.bias is None and mixer.x_proj.bias is None
    # kaiming_uniform(a=√5) is U(±1/√E); divided by √(n_residuals_per_layer · L), one residual per layer
    bound = 1 / math.sqrt(E) / math.sqrt(L)
    assert mixer.out_proj.weight.abs().max().item() == pytest.approx(bound, rel=0.02)
    assert mixer.dt_proj.weight.abs().max().item() == pytest.approx(R ** -0.5, rel=0.05)
    dt = F.softplus(mixer.dt_proj.bias.detach())
    assert dt.min() >= 1e-3 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
    assert torch.equal(mixer.A_log.detach(), torch.log(torch.arange(1., 17.)).repeat(E, 1))
    assert torch.all(mixer.D == 1)
    assert model.net.core.norms[0].eps == 1e-5


def test_mamba_embedding_is_n_0_0_02_and_other_models_keep_theirs(registry):
    mamba = build(registry, "mamba@torch", hidden=256, layers=1).net.embed.weight
    assert mamba.std().item() == pytest.approx(0.02, rel=0.1)
    for other in ("lstm@torch", "gru@torch", "transformer@torch", "hawk@torch"):
        assert build(registry, other, hidden=256, layers=1).net.embed.weight.std().item() == pytest.approx(1, rel=0.1)


# -- DeltaNet (flash-linear-attention) -------------------------------------------------------------
def naive_delta_rule(q, k, v, beta):
    """S_t = S_{t-1} + β_t k_t (v_t - S_{t-1}ᵀ k_t)ᵀ, o_t = S_tᵀ q_t (Schlag et al.; Yang et al.); [B, H, T, d]."""
    B, H, T, d = q.shape
    S = torch.zeros(B, H, d, d, dtype=q.dtype)
    out = []
    for t in range(T):
        kt, vt, bt = k[:, :, t], v[:, :, t], beta[:, :, t, None]
        error = vt - torch.einsum("bhij,bhi->bhj", S, kt)
        S = S + torch.einsum("bhi,bhj->bhij", kt, bt * error)
        out.append(torch.einsum("bhij,bhi->bhj", S, q[:, :, t]))
    return torch.stack(out, dim=2)


@pytest.mark.parametrize("form", ["chunked", "sequential"])
def test_deltanet_applies_flas_silu_on_v_and_d_head_scale_on_q(registry, form):
    model = build(registry, "deltanet@torch", hidden=8, layers=1, dtype="float64", input_kind="features",
                  heads=2, chunk=4, form=form)
    mixer = model.net.core.mixers[0]
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    B, T, H, dh = 2, 7, 2, 4
    with torch.no_grad():
        got = mixer(x)
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in mixer.qkv(x).chunk(3, dim=-1))
        q = F.normalize(F.silu(q), dim=-1) * dh ** -0.5  # fla: SiLU, L2 norm, then the kernel's scale
        k = F.normalize(F.silu(k), dim=-1)
        v = F.silu(v)
        beta = torch.sigmoid(mixer.beta(x)).transpose(1, 2)
        o = naive_delta_rule(q, k, v, beta)
        want = mixer.proj(o.transpose(1, 2).reshape(B, T, H * dh))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


# -- xLSTM (NX-AI/xlstm) ---------------------------------------------------------------------------
def test_mlstm_gates_read_qkv_and_start_as_the_references(registry):
    d, H = 64, 4
    torch.manual_seed(0)
    mixer = build(registry, "xlstm@torch", hidden=d, layers=1, heads=H).net.core.mixers[0]
    assert mixer.gates.in_features == 3 * d and torch.all(mixer.gates.weight == 0)
    torch.testing.assert_close(mixer.gates.bias[H:].detach(), torch.linspace(3.0, 6.0, H))
    input_bias = mixer.gates.bias[:H].detach()
    assert input_bias.abs().max() < 0.5 and input_bias.std() > 0  # N(0, 0.1²)


def test_mlstm_normaliser_has_the_references_epsilon(registry):
    """h_t = Σ_s C̃_ts v_s / (max(|Σ_s C̃_ts|, exp(-m_t)) + 1e-6): parallel_stabilized_simple's rule."""
    model = build(registry, "xlstm@torch", hidden=8, layers=1, dtype="float64", input_kind="features", heads=2)
    mixer = model.net.core.mixers[0]
    with torch.no_grad():  # gates that vary, so that the stabiliser matters
        mixer.gates.weight.normal_(std=0.5)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    B, T, H, dh = 2, 5, 2, 4
    with torch.no_grad():
        got = mixer(x)
        qkv = mixer.qkv(x)
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
        i_pre, f_pre = mixer.gates(qkv).transpose(1, 2).chunk(2, dim=1)
        log_f = F.logsigmoid(f_pre)
        hs = []
        for t in range(T):
            log_d = torch.stack([log_f[:, :, s + 1:t + 1].sum(-1) + i_pre[:, :, s] for s in range(t + 1)], -1)
            m = log_d.max(-1, keepdim=True).values
            c = (q[:, :, t, None, :] * k[:, :, :t + 1] / math.sqrt(dh)).sum(-1) * torch.exp(log_d - m)
            norm = torch.maximum(c.sum(-1, keepdim=True).abs(), torch.exp(-m)) + 1e-6
            hs.append((c[..., None] * v[:, :, :t + 1]).sum(2) / norm)
        h = torch.stack(hs, dim=2)
        want = mixer.proj(torch.sigmoid(mixer.o(x)) * h.transpose(1, 2).reshape(B, T, H * dh))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_slstm_recurrent_weights_start_at_zero_and_the_forget_bias_is_the_power_law(registry):
    d, H, L = 16, 2, 3
    stack = build(registry, "xlstm@torch", hidden=d, layers=L, heads=H, cell="slstm").net.core
    dh = d // H
    for layer, mixer in enumerate(stack.mixers):
        assert torch.all(mixer.R == 0)
        bias = mixer.W.bias.detach()
        power = 0.3 + 1.3 * layer / (L - 1)
        head = torch.tensor([5.0 - 12.0 * (j / (dh - 1)) ** power for j in range(dh)])
        torch.testing.assert_close(bias[2 * d:3 * d], head.repeat(H))
        assert torch.all(bias[:2 * d] == 0) and torch.all(bias[3 * d:] == 0)


# -- the LSTM and the GRU: one gate-bias rule ------------------------------------------------------
def keep_gate_bias(model):
    rnn = model.net.core.rnn
    H = rnn.hidden_size
    return [(getattr(rnn, f"bias_ih_l{k}")[H:2 * H].detach(), getattr(rnn, f"bias_hh_l{k}")[H:2 * H].detach())
            for k in range(rnn.num_layers)]


@pytest.mark.parametrize("arch", ["lstm@torch", "gru@torch"])
def test_lstm_forget_gate_and_gru_update_gate_start_at_the_same_bias(registry, arch):
    """LSTM order i, f, g, o and GRU order r, z, n: the gate that keeps h_{t-1} is the second in both."""
    model = build(registry, arch, hidden=16, layers=2)
    for ih, hh in keep_gate_bias(model):
        assert torch.all(ih == 1.0) and torch.all(hh == 0.0)
    assert model.describe()["gate_bias"].endswith("bias 1")
    for ih, hh in keep_gate_bias(build(registry, arch, hidden=16, layers=2, gate_bias="0.5")):
        assert torch.all(ih + hh == 0.5)
    none = build(registry, arch, hidden=16, layers=2, gate_bias="none")
    for ih, hh in keep_gate_bias(none):  # PyTorch's U(±1/√H) for both
        assert ih.abs().max() <= 0.25 and ih.std() > 0 and hh.std() > 0
    assert "PyTorch" in none.describe()["gate_bias"]


def test_gate_bias_is_an_option_of_the_gated_cells_only_and_is_checked(registry):
    assert registry.models["lstm@torch"].options["gate_bias"] == registry.models["gru@torch"].options["gate_bias"]
    assert "gate_bias" not in registry.models["rnn@torch"].options
    check = registry.models["gru@torch"].check_options
    with pytest.raises(ValueError, match="gate_bias must be a number or none"):
        check({**registry.models["gru@torch"].options, "gate_bias": "high"}, 16)
    with pytest.raises(ValueError, match="finite"):
        check({**registry.models["gru@torch"].options, "gate_bias": "inf"}, 16)
