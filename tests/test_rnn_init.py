"""The recurrent initialisation option of rnn/lstm/gru@torch: what init=orthogonal and radius build."""

from __future__ import annotations

import pytest
import torch

from rnnbench.plugins.torch.rnn import GATES, OPTIONS, RecurrentCore, check_options


@pytest.mark.parametrize("arch", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("radius", [0.5, 3.0])
def test_orthogonal_init_gives_every_gate_block_the_spectral_radius(arch, radius):
    torch.manual_seed(0)
    core = RecurrentCore(arch, hidden=16, layers=2, init="orthogonal", radius=radius)
    for name, weight in core.rnn.named_parameters():
        if name.startswith("weight_hh"):
            for g in range(GATES[arch]):
                block = weight[g * 16:(g + 1) * 16].detach().double()
                # orthogonal × r: every singular value, hence every eigenvalue's modulus, is r
                assert torch.linalg.svdvals(block) == pytest.approx([radius] * 16, rel=1e-5)
                assert torch.linalg.eigvals(block).abs().max().item() == pytest.approx(radius, rel=1e-4)


def test_default_init_is_pytorchs_and_keeps_the_lstm_forget_bias():
    torch.manual_seed(0)
    core = RecurrentCore("lstm", hidden=8, layers=1)
    w = core.rnn.weight_hh_l0.detach()
    assert w.abs().max().item() <= 8 ** -0.5 + 1e-6  # U(-1/sqrt(H), 1/sqrt(H))
    assert torch.all(core.rnn.bias_ih_l0[8:16] == 1.0)


def test_options_are_checked_before_any_case_runs():
    check_options({**OPTIONS, "init": "orthogonal", "radius": 2.0}, 16)
    with pytest.raises(ValueError, match="init must be one of default, orthogonal"):
        check_options({**OPTIONS, "init": "xavier"}, 16)
    with pytest.raises(ValueError, match="radius must be positive"):
        check_options({**OPTIONS, "init": "orthogonal", "radius": 0.0}, 16)
    with pytest.raises(ValueError, match="set init=orthogonal too"):
        check_options({**OPTIONS, "radius": 2.0}, 16)
