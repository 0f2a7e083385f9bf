"""Issue 40, for plugin authors: complex decode states, a per-call FLOPs constant, no warning about
flags the user never gave."""

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import rnnbench
from rnnbench.records import CaseConfig, CaseJob, RunSettings
from rnnbench.specs import ExecutorOptions
from rnnbench.testing import ContractError, check_model
from rnnbench.torch_model import TorchModel


class ComplexDiagonal(nn.Module):
    """h_t = λ h_{t-1} + x_t with complex λ (an LRU/S4D-like core): its decode state is complex."""

    def __init__(self, hidden):
        super().__init__()
        self.log_decay = nn.Parameter(torch.full((hidden,), -0.5))
        self.theta = nn.Parameter(torch.linspace(0.1, 1.0, hidden))

    def _lam(self):
        return torch.polar(torch.exp(-torch.exp(self.log_decay)), self.theta)

    def forward(self, x):
        h = self.init_state(x.shape[0], x.device, x.dtype)
        outs = []
        for t in range(x.shape[1]):
            h = self._lam().to(h.dtype) * h + x[:, t]
            outs.append(h.real)
        return torch.stack(outs, 1)

    def init_state(self, batch, device, dtype):
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        return torch.zeros(batch, self.theta.shape[0], device=device, dtype=complex_dtype)

    def step(self, x, state):
        h = self._lam().to(state.dtype) * state + x[:, 0]
        return h.real[:, None], h


def _spec(flops):
    def factory(config):
        return TorchModel(config, lambda c: ComplexDiagonal(c.hidden), flops(config.hidden))

    return rnnbench.ModelSpec(arch="cdiag", backend="test", family="linear-recurrent", factory=factory,
                              devices=("cpu",), dtypes=("float32", "float64"))


def test_check_model_accepts_a_complex_state_and_a_per_call_constant():
    # one kernel of T·H per call (built once, shared by the batch) plus the per-example recurrence
    report = check_model(_spec(lambda H: lambda T, B: 8.0 * B * T * H + 5.0 * T * H), seq_len=6, batch_size=3)
    assert any("plus" in line and "per call" in line for line in report.checked), report.checked


def test_check_model_raises_no_complex_warning_under_w_error(tmp_path):
    """The same check in a fresh interpreter with every warning an error (as `pytest -W error` runs it)."""
    script = tmp_path / "check.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
        from test_plugin_author_api import _spec
        from rnnbench.testing import check_model
        check_model(_spec(lambda H: lambda T, B: 8.0 * B * T * H), seq_len=4, batch_size=2)
        print("ok")
    """))
    proc = subprocess.run([sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.parametrize("flops, message", [
    (lambda H: lambda T, B: float(B * B * T * H), "linear in the batch"),  # quadratic in B
    (lambda H: lambda T, B: 8.0 * B * T * H - 5.0 * T * H, "must not be negative"),  # a negative constant
])
def test_check_model_still_refuses_flops_that_are_not_affine_in_the_batch(flops, message):
    with pytest.raises(ContractError, match=message):
        check_model(_spec(flops), seq_len=6, batch_size=3)


def test_side_by_side_workers_chosen_by_rnnbench_give_no_sharing_warning(capsys):
    from rnnbench.execution.executors.process import ProcessExecutor

    config = CaseConfig(model="lstm@torch", task="copy", task_options=(), seq_len=4, batch_size=2, hidden=4,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=1, lr=1e-3)
    job = CaseJob(config, RunSettings(thread_cap=1), ())
    ProcessExecutor(ExecutorOptions(workers=2, warn_sharing=False))._warn_about_sharing(job)
    assert "--workers" not in capsys.readouterr().err
    ProcessExecutor(ExecutorOptions(workers=2))._warn_about_sharing(job)  # the user's --workers 2: warned
    assert "--workers 2" in capsys.readouterr().err
