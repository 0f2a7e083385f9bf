"""Compile lstm@triton's kernels for NVIDIA GPUs ahead of time, without a GPU.

    python benchmarks/compile_check.py                 # sm_80 and sm_90, every plan the sizes below use
    python benchmarks/compile_check.py --arch 90 --hidden 1024 --dtype bfloat16

Triton compiles to PTX and runs ptxas (shipped in the triton wheel) without a device,
so this catches what the interpreter cannot: code the GPU compiler rejects, and tiles
whose shared memory exceeds what a program may use. For each (dtype, batch, hidden) it
takes the LaunchPlan that plan_launch picks for CUDA, compiles the forward (with and
without saving gates) and the backward kernel with that plan's tiles, warps and
stages, and prints the shared memory each needs. It exits 1 if one fails to compile or
needs more than --max-shared bytes (default: 99 KiB, the per-program limit of sm_86/sm_89;
sm_80 allows 163 KiB, sm_90 227 KiB). Compiling takes seconds to a minute per kernel.
"""

from __future__ import annotations

import argparse
import os
import sys

DTYPES = {"float32": ("fp32", 4, "ieee"), "bfloat16": ("bf16", 2, "tf32"), "float16": ("fp16", 2, "tf32")}


def forward_signature(t: str) -> dict[str, str]:
    return {"xw_ptr": f"*{t}", "w_ptr": f"*{t}", "hs_ptr": f"*{t}", "cs_ptr": "*fp32", "gates_ptr": f"*{t}",
            "B": "i32", "H": "i32", "t_start": "i32", "t_stop": "i32", "stride_xw_t": "i32", "stride_xw_b": "i32",
            "stride_hs_t": "i32", "stride_cs_t": "i32", "stride_g_t": "i32", "BLOCK_B": "constexpr",
            "BLOCK_H": "constexpr", "BLOCK_K": "constexpr", "W_ON_CHIP": "constexpr", "SAVE_GATES": "constexpr",
            "PRECISION": "constexpr"}


def backward_signature(t: str) -> dict[str, str]:
    return {"dy_ptr": f"*{t}", "w_ptr": f"*{t}", "cs_ptr": "*fp32", "gates_ptr": f"*{t}", "dgates_ptr": f"*{t}",
            "dc_ptr": "*fp32", "B": "i32", "H": "i32", "T": "i32", "s_start": "i32", "s_stop": "i32",
            "stride_dy_t": "i32", "stride_cs_t": "i32", "stride_g_t": "i32", "stride_dg_t": "i32",
            "BLOCK_B": "constexpr", "BLOCK_H": "constexpr", "BLOCK_K": "constexpr", "W_ON_CHIP": "constexpr",
            "PRECISION": "constexpr"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="80,90", help="compute capabilities, comma list (default: %(default)s)")
    parser.add_argument("--batch", default="1,64,256", help="comma list (default: %(default)s)")
    parser.add_argument("--hidden", default="32,64,256,1024", help="comma list (default: %(default)s)")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma list (default: %(default)s)")
    parser.add_argument("--num-sms", type=int, default=132,
                        help="streaming multiprocessors the plans assume (default: %(default)s, an H100 SXM)")
    parser.add_argument("--max-shared", type=int, default=99 * 1024, help="bytes (default: %(default)s)")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes", "y"):
        print("compile_check: unset TRITON_INTERPRET: the interpreter compiles nothing", file=sys.stderr)
        return 2
    try:
        import torch
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource

        from rnnbench.plugins.triton import kernels
    except ImportError as exc:
        print(f"compile_check: {exc}: pip install 'rnnbench[triton]'", file=sys.stderr)
        return 2

    failures = 0
    seen = set()
    cuda = torch.device("cuda")
    for arch in (int(a) for a in args.arch.split(",")):
        target = GPUTarget("cuda", arch, 32)
        for dtype in args.dtype.split(","):
            ty, size, precision = DTYPES[dtype]
            for batch in (int(b) for b in args.batch.split(",")):
                for hidden in (int(h) for h in args.hidden.split(",")):
                    plan = kernels.plan_launch(batch, hidden, size, cuda, num_sms=args.num_sms)
                    jobs = [(kernels._lstm_forward_kernel, forward_signature(ty),
                             dict(BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
                                  W_ON_CHIP=plan.w_on_chip, SAVE_GATES=save, PRECISION=precision))
                            for save in (True, False)]
                    jobs.append((kernels._lstm_backward_kernel, backward_signature(ty),
                                 dict(BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k_backward,
                                      W_ON_CHIP=plan.w_on_chip, PRECISION=precision)))
                    for fn, signature, constants in jobs:
                        key = (arch, fn.__name__, ty, tuple(constants.items()), plan.num_warps, plan.num_stages)
                        if key in seen:
                            continue
                        seen.add(key)
                        label = (f"sm_{arch} {fn.__name__} {dtype} B={batch} H={hidden} "
                                 f"{' '.join(f'{k}={v}' for k, v in constants.items())}")
                        try:
                            compiled = triton.compile(
                                ASTSource(fn, signature, constants), target=target,
                                options={"num_warps": plan.num_warps, "num_stages": plan.num_stages})
                        except Exception as exc:  # report every failure, then exit non-zero
                            failures += 1
                            print(f"FAIL {label}: {type(exc).__name__}: {str(exc)[:500]}", flush=True)
                            continue
                        shared = compiled.metadata.shared
                        verdict = "ok  " if shared <= args.max_shared else "FAIL"
                        failures += shared > args.max_shared
                        print(f"{verdict} {label}: shared memory {shared} bytes", flush=True)
    print(f"{len(seen)} kernel variants compiled, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
