"""``nan@test``: the tiny model whose predictions are NaN (its training loss stays finite).

It also declares a float option ``scale``, so that tests can give it a NaN value.
"""

import numpy as np

import rnnbench
from testplugins.tiny import factory as tiny_factory


def factory(config):
    model = tiny_factory(config)
    predict = model.predict

    def nan_predict(batch):
        outputs = predict(batch)
        return np.full_like(outputs, np.nan)

    model.predict = nan_predict
    return model


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="nan", backend="test", family="other", factory=factory,
                                devices=("cpu",), options={"scale": 1.0},
                                description="test model: NaN predictions"))
    register(rnnbench.ModelSpec(arch="nanall", backend="test", family="other", factory=nan_everywhere_factory,
                                devices=("cpu",), description="test model: NaN outputs from every call"))


def nan_everywhere_factory(config):
    """NaN from forward() and step() too: what the forward and decode scenarios time."""
    import torch

    model = factory(config)
    forward, step = model.forward, model.step
    model.forward = lambda batch: torch.full_like(forward(batch), float("nan"))

    def nan_step(inputs, state):
        outputs, new_state = step(inputs, state)
        return torch.full_like(outputs, float("nan")), new_state

    model.step = nan_step
    return model
