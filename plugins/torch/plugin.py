"""The torch backend's registration: every model of plugins/torch/ is registered here."""

from rnnbench.plugins.torch import minrnn, mlp, rnn, transformer

import rnnbench
from rnnbench.torch_model import FLOAT16_NOTE, TORCH_DTYPES, TRAIN_DTYPES


@rnnbench.hookimpl
def rnnbench_register_models(register):
    for arch, title in (("rnn", "vanilla RNN (tanh)"), ("lstm", "LSTM"), ("gru", "GRU")):
        register(rnnbench.ModelSpec(
            arch=arch, backend="torch", family="recurrent", factory=rnn.make_factory(arch),
            devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
            train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
            options=rnn.OPTIONS, option_help=rnn.OPTION_HELP, check_options=rnn.check_options,
            description=f"{title}: torch.nn.{rnn.LAYERS[arch].__name__} (oneDNN/ATen on CPU, cuDNN on CUDA)",
        ))
    register(rnnbench.ModelSpec(
        arch="transformer", backend="torch", family="attention", factory=transformer.factory,
        devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
        train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
        options=transformer.OPTIONS, option_help=transformer.OPTION_HELP, check_options=transformer.check_options,
        description="causal pre-LN Transformer (SDPA attention, GELU MLP, sinusoidal positions)",
    ))
    register(rnnbench.ModelSpec(
        arch="mlp", backend="torch", family="feedforward", factory=mlp.factory,
        devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
        description="memoryless baseline: position-wise pre-LN GELU MLP blocks, no mixing across time",
    ))
    for arch, title in (("mingru", "minGRU (Feng et al. 2024)"), ("minlstm", "minLSTM (Feng et al. 2024)")):
        register(rnnbench.ModelSpec(
            arch=arch, backend="torch", family="linear-recurrent", factory=minrnn.make_factory(arch),
            devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
            train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
            options=minrnn.OPTIONS, option_help=minrnn.OPTION_HELP, check_options=minrnn.check_options,
            description=f"{title}: gates from the input only; log-space parallel scan, sequential decode",
        ))
