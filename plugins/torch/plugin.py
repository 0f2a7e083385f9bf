"""The torch backend's registration: every model of plugins/torch/ is registered here."""

from rnnbench.plugins.torch import deltanet, hawk, mamba, minrnn, mlp, rnn, transformer, unshared, xlstm

import rnnbench
from rnnbench.torch_model import FLOAT16_NOTE, TORCH_DTYPES, TRAIN_DTYPES


@rnnbench.hookimpl
def rnnbench_register_models(register):
    for arch, title in (("rnn", "vanilla RNN (tanh)"), ("lstm", "LSTM"), ("gru", "GRU")):
        register(rnnbench.ModelSpec(
            arch=arch, backend="torch", family="recurrent", factory=rnn.make_factory(arch),
            devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
            train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
            options=rnn.options_for(arch)[0], option_help=rnn.options_for(arch)[1], check_options=rnn.check_options,
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
    register(rnnbench.ModelSpec(
        arch="unshared_rnn", backend="torch", family="recurrent", factory=unshared.factory,
        devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
        train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
        options=unshared.OPTIONS, option_help=unshared.OPTION_HELP, check_options=unshared.check_options,
        description="control without weight sharing: a tanh RNN with its own weights at each position"
                    " (up to positions=64)",
    ))
    for arch, module, factory, description in LINEAR_RECURRENT:
        register(rnnbench.ModelSpec(
            arch=arch, backend="torch", family="linear-recurrent", factory=factory,
            devices=("cpu", "cuda"), dtypes=tuple(TORCH_DTYPES), default_for_arch=True,
            train_dtypes=TRAIN_DTYPES, train_dtype_note=FLOAT16_NOTE,
            options=module.OPTIONS, option_help=module.OPTION_HELP, check_options=module.check_options,
            description=description,
        ))


#: (arch, module, factory, description) of the linear recurrences (plugins/torch/recurrence.py)
LINEAR_RECURRENT = (
    ("mingru", minrnn, minrnn.make_factory("mingru"),
     "minGRU (Feng et al. 2024): gates from the input only; fused CPU scan (kernel=torch: log-space parallel"
     " scan), sequential decode"),
    ("minlstm", minrnn, minrnn.make_factory("minlstm"),
     "minLSTM (Feng et al. 2024): gates from the input only; fused CPU scan (kernel=torch: log-space parallel"
     " scan), sequential decode"),
    ("mamba", mamba, mamba.factory,
     "Mamba (Gu & Dao 2023): selective state space (S6), input-dependent Δ, B, C; fused CPU selective scan"
     " (kernel=torch: sequential, or scan=chunked: chunked parallel scan), causal depthwise conv"),
    ("deltanet", deltanet, deltanet.make_factory("delta"),
     "DeltaNet (Yang et al. 2024): delta-rule fast weights, chunkwise parallel (WY form), recurrent decode"),
    ("linear_attention", deltanet, deltanet.make_factory("linear"),
     "linear attention (Katharopoulos et al. 2020): elu+1 feature map, chunkwise parallel, recurrent decode"),
    ("hawk", hawk, hawk.factory,
     "Hawk (De et al. 2024): RG-LRU gated diagonal recurrence, short causal conv, gated MLP; fused CPU scan"
     " (kernel=torch: chunked scan)"),
    ("xlstm", xlstm, xlstm.factory,
     "xLSTM (Beck et al. 2024): cell=mlstm (matrix memory, exponential gating, parallel form) or slstm"
     " (scalar memory, recurrent gates, sequential)"),
)
