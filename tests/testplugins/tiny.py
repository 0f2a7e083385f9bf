"""A fast, well-behaved model: a position-wise MLP (no memory), for end-to-end tests."""

import torch
from torch import nn

import rnnbench
from rnnbench.torch_model import TorchModel


class PositionwiseCore(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.fc = nn.Linear(hidden, hidden)

    def forward(self, x):
        return torch.tanh(self.fc(x))

    def init_state(self, batch, device, dtype):
        return None

    def step(self, x, state):
        return self.forward(x), state


def factory(config):
    return TorchModel(config, lambda c: PositionwiseCore(c.hidden),
                      lambda T, B: 2.0 * B * T * config.hidden ** 2)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="tiny", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32", "float64")))
