#!/usr/bin/env bash
# lstm@triton on a CUDA GPU, in one command (issue 18's GPU verification):
#
#     bash benchmarks/gpu_check_triton.sh            # from the repository root, venv active
#
# 1. tests/test_triton_lstm_gpu.py: outputs, state and every gradient against a float64
#    nn.LSTM (B 1/7/16/64, H 96/256/768/1024, 1-2 layers, float32/float16/bfloat16),
#    both designs at B=256, the tf32 opt-in's error, decoding, the barrier on the largest
#    grid, an impossible grid raising instead of hanging;
# 2. benchmarks/triton_vs_cudnn.py --quick: the speed table against cuDNN (with the
#    fp16 B=16 T=1024 H=768 anchor row and the barrier floor).
# Output goes to the terminal and to gpu-check-triton/ (logs and the CSV of the table).
set -uo pipefail
cd "$(dirname "$0")/.."
out=gpu-check-triton
mkdir -p "$out"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv || true
  python -c "import torch, triton; print('torch', torch.__version__, 'cuDNN', torch.backends.cudnn.version(), 'triton', triton.__version__)"
  uptime
} 2>&1 | tee "$out/environment.txt"
python -m pytest -q -rs -s tests/test_triton_lstm_gpu.py 2>&1 | tee "$out/gpu-tests.log"
tests=${PIPESTATUS[0]}
python benchmarks/triton_vs_cudnn.py --quick --csv "$out/triton_vs_cudnn_quick.csv" 2>&1 | tee "$out/triton_vs_cudnn_quick.log"
bench=${PIPESTATUS[0]}
echo "gpu tests exit $tests; benchmark exit $bench; logs in $out/"
exit $(( tests != 0 || bench != 0 ))
