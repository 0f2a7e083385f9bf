"""The NumPy backend's registration: the hand-written reference models."""

from rnnbench.plugins.numpy.model import DTYPES, make_factory

import rnnbench


@rnnbench.hookimpl
def rnnbench_register_models(register):
    for arch, title in (("rnn", "vanilla RNN (tanh)"), ("lstm", "LSTM"), ("gru", "GRU")):
        register(rnnbench.ModelSpec(
            arch=arch, backend="numpy", family="recurrent", factory=make_factory(arch),
            devices=("cpu",), dtypes=DTYPES,
            description=f"{title}: NumPy reference, backpropagation through time by hand",
        ))
