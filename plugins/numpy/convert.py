"""Copy weights between the NumPy models and torch: nn.RNN / nn.LSTM / nn.GRU, or a whole
:class:`~rnnbench.torch_model.SequenceNet` (embedding, core, head).

Parameter names, shapes and gate order are torch's, so a copy is a lookup by name;
what does not line up (another architecture, width or depth, a bidirectional or
projected LSTM, batch_first=False where it matters) is refused with a clear error.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from rnnbench.plugins.numpy.layers import Parameters, RecurrentStack
from rnnbench.plugins.numpy.model import CORE_PREFIX, NumpyRecurrentModel
from torch import nn

TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _check_rnn(stack: RecurrentStack, rnn: nn.RNNBase) -> None:
    expected = TORCH_LAYERS[stack.arch]
    if type(rnn) is not expected:
        raise ValueError(f"a {stack.arch} stack copies from/to {expected.__name__}, not {type(rnn).__name__}")
    if rnn.bidirectional or getattr(rnn, "proj_size", 0) or not rnn.bias:
        raise ValueError("only unidirectional recurrent layers with biases and no projection are supported")
    if stack.arch == "rnn" and rnn.nonlinearity != "tanh":
        raise ValueError("only the tanh RNN is supported")
    ours = (stack.input_size, stack.hidden, stack.num_layers)
    theirs = (rnn.input_size, rnn.hidden_size, rnn.num_layers)
    if ours != theirs:
        raise ValueError(f"shape mismatch: NumPy (input, hidden, layers) = {ours}, torch = {theirs}")


def _copy_in(params: Parameters, tensors: Mapping[str, torch.Tensor], prefix: str = "") -> None:
    for name, tensor in tensors.items():
        target = params.values[prefix + name]
        if tuple(tensor.shape) != target.shape:
            raise ValueError(f"{name}: torch shape {tuple(tensor.shape)} != NumPy shape {target.shape}")
        target[...] = tensor.detach().cpu().numpy()


def _copy_out(params: Parameters, module: nn.Module, prefix: str = "") -> None:
    with torch.no_grad():
        for name, tensor in module.named_parameters():
            source = params.values[prefix + name]
            if tuple(tensor.shape) != source.shape:
                raise ValueError(f"{name}: NumPy shape {source.shape} != torch shape {tuple(tensor.shape)}")
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(source)))


def stack_from_torch(stack: RecurrentStack, rnn: nn.RNNBase) -> RecurrentStack:
    """Copy an nn.RNN / nn.LSTM / nn.GRU's weights into a NumPy :class:`RecurrentStack`."""
    _check_rnn(stack, rnn)
    _copy_in(stack.params, dict(rnn.named_parameters()), stack.prefix)
    return stack


def stack_to_torch(stack: RecurrentStack, rnn: nn.RNNBase) -> nn.RNNBase:
    """Copy a NumPy :class:`RecurrentStack`'s weights into an nn.RNN / nn.LSTM / nn.GRU."""
    _check_rnn(stack, rnn)
    _copy_out(stack.params, rnn, stack.prefix)
    return rnn


def stack_like(rnn: nn.RNNBase, dtype=np.float64) -> RecurrentStack:
    """A NumPy stack with the architecture, sizes and weights of a torch recurrent layer."""
    arch = {cls: name for name, cls in TORCH_LAYERS.items()}.get(type(rnn))
    if arch is None:
        raise ValueError(f"not a torch recurrent layer: {type(rnn).__name__}")
    stack = RecurrentStack(arch, rnn.input_size, rnn.hidden_size, rnn.num_layers, dtype=dtype)
    return stack_from_torch(stack, rnn)


def model_from_torch(model: NumpyRecurrentModel, net: nn.Module) -> NumpyRecurrentModel:
    """Copy a torch SequenceNet (``embed``, ``core.rnn``, ``head``) into a NumPy model."""
    _check_rnn(model.core, net.core.rnn)
    tensors = dict(net.named_parameters())
    missing = sorted(set(model.params.values) - set(tensors))
    extra = sorted(set(tensors) - set(model.params.values))
    if missing or extra:
        raise ValueError(f"parameters do not line up: missing in torch {missing}, extra in torch {extra}")
    _copy_in(model.params, tensors)
    return model


def model_to_torch(model: NumpyRecurrentModel, net: nn.Module) -> nn.Module:
    """Copy a NumPy model's weights into a torch SequenceNet of the same configuration."""
    _check_rnn(model.core, net.core.rnn)
    names = {name for name, _ in net.named_parameters()}
    if names != set(model.params.values):
        raise ValueError("parameters do not line up between the NumPy model and the torch network")
    _copy_out(model.params, net)
    return net


__all__ = ["CORE_PREFIX", "model_from_torch", "model_to_torch", "stack_from_torch", "stack_like",
           "stack_to_torch"]
