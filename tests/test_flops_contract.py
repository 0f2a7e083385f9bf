"""The hand-written FLOP formulas (``Model.flops``, which ``--flops-budget`` and GFLOP/s rely on) against
torch's own FLOP counter (``torch.utils.flop_counter.FlopCounterMode``) on a forward of each built-in torch model.

The counter counts matrix products and convolutions only (not elementwise work), exactly, so
the comparison is deterministic. Tolerance: the formula within 0.9x-1.15x of the count at the
size below (a Transformer's formula counts its softmax and norms too: 1.13x). Exceptions, where
the counter cannot see the work the formula counts:

* ``lstm@torch`` runs oneDNN's fused LSTM kernel on the CPU, which the counter does not count
  (it sees only the embedding and the head);
* ``mamba@torch`` counts its selective scan's elementwise work (1.30x the counted products).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from rnnbench.execution.runner import build_model, build_task  # noqa: E402
from rnnbench.request.options import RunRequest  # noqa: E402
from rnnbench.request.sweep import expand  # noqa: E402

LOW, HIGH = 0.9, 1.15
NOT_COUNTABLE = {
    "lstm@torch": "oneDNN's fused LSTM kernel is invisible to the counter",
    "mamba@torch": "the formula counts the selective scan's elementwise work, which the counter does not",
}
SEQ_LEN, BATCH, HIDDEN = 32, 4, 64


def torch_models(registry) -> list[str]:
    return sorted(name for name, spec in registry.models.items()
                  if name.endswith("@torch") and not spec.unavailable_reason())


def formula_over_count(registry, name: str) -> float:
    request = RunRequest(models=[name], seq_len=[SEQ_LEN], batch_size=[BATCH], hidden=[HIDDEN], layers=[1])
    [config] = expand(request, registry, cuda_probe=lambda: False).cases
    task = build_task(config, registry)
    model = build_model(config, registry, task)
    batch = task.batch("train", 0, BATCH)
    inputs = model.to_device(batch)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.forward(inputs)
    return model.flops(task.shape.seq_len, BATCH) / counter.get_total_flops()


def test_the_builtin_torch_models_are_all_compared_or_excused(registry):
    names = torch_models(registry)
    assert len(names) >= 8 and set(NOT_COUNTABLE) <= set(names)


@pytest.mark.parametrize("name", ["deltanet@torch", "gru@torch", "hawk@torch", "linear_attention@torch",
                                  "mingru@torch", "minlstm@torch", "mlp@torch", "rnn@torch", "transformer@torch",
                                  "unshared_rnn@torch", "xlstm@torch"])
def test_a_models_flops_formula_agrees_with_torchs_counter(registry, name):
    torch.manual_seed(0)
    ratio = formula_over_count(registry, name)
    assert LOW <= ratio <= HIGH, f"{name}: flops() is {ratio:.3f}x torch's FLOP counter"


def test_every_countable_model_is_checked(registry):
    checked = set(test_a_models_flops_formula_agrees_with_torchs_counter.pytestmark[0].args[1])
    assert set(torch_models(registry)) - set(NOT_COUNTABLE) == checked
