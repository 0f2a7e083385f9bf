"""The Triton backend's registration: the fused LSTM (extra ``rnnbench[triton]``)."""

from rnnbench.plugins.triton.lstm import DTYPES, TRAIN_DTYPES, TRAIN_DTYPE_NOTE, factory, unavailable_reason

import rnnbench


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(
        arch="lstm", backend="triton", family="recurrent", factory=factory,
        devices=("cpu", "cuda"), dtypes=DTYPES, available=unavailable_reason,
        train_dtypes=TRAIN_DTYPES, train_dtype_note=TRAIN_DTYPE_NOTE,
        description="LSTM, recurrence fused in Triton kernels (CUDA; CPU via TRITON_INTERPRET=1)",
    ))
