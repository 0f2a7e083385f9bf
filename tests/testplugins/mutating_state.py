"""A model whose step() advances the state it is given in place: the decode scenario must refuse it.

Such a step would make repeated timed calls measure ever longer contexts.
"""

import torch
from torch import nn

import rnnbench
from rnnbench.torch_model import TorchModel


class InPlaceCore(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.fc = nn.Linear(hidden, hidden)

    def forward(self, x):
        return torch.tanh(self.fc(x).cumsum(dim=1))

    def init_state(self, batch, device, dtype):
        return torch.zeros(batch, 1, self.fc.out_features, device=device, dtype=dtype)

    def step(self, x, state):
        state.add_(self.fc(x))  # the defect: the caller's state changes
        return torch.tanh(state.clone()), state


def factory(config):
    return TorchModel(config, lambda c: InPlaceCore(c.hidden), lambda T, B: 2.0 * B * T * config.hidden ** 2)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="inplace", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
