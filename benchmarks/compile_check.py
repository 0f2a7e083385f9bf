"""Compile lstm@triton's kernels for NVIDIA GPUs ahead of time, without a GPU.

    python benchmarks/compile_check.py                 # sm_90a, every plan the default grid uses
    python benchmarks/compile_check.py --arch 80,90 --hidden 1024 --dtype bfloat16

Triton compiles to PTX and runs ptxas (shipped in the triton wheel) without a device,
so this catches what the interpreter cannot: code the GPU compiler rejects (the grid
barrier's atomics among it), registers that spill, and shared memory a program cannot
have. For each (dtype, batch, hidden) it takes the LaunchPlan that plan_launch picks for
CUDA (assuming --num-sms SMs), compiles every kernel variant that plan launches (forward
when training and at inference, the fused decode step, the backward) and prints
registers per thread, spilled bytes and shared memory. It exits 1 if a variant fails to
compile, spills more than --max-spill bytes, or needs more than --max-shared bytes.
Compiling takes seconds per kernel; identical variants are compiled once.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

DTYPES = ("float32", "bfloat16", "float16")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="90", help="compute capabilities, comma list; 90 is sm_90a (default: %(default)s)")
    parser.add_argument("--batch", default="1,16,64,256", help="comma list (default: %(default)s)")
    parser.add_argument("--hidden", default="96,256,768,1024", help="comma list (default: %(default)s)")
    parser.add_argument("--dtype", default="float32,bfloat16,float16", help="comma list (default: %(default)s)")
    parser.add_argument("--precision", default="ieee", choices=("ieee", "tf32", "tf32x3"),
                        help="float32 products (default: %(default)s)")
    parser.add_argument("--num-sms", type=int, default=132,
                        help="streaming multiprocessors the plans assume (default: %(default)s, an H100 SXM)")
    parser.add_argument("--max-shared", type=int, default=227 * 1024,
                        help="bytes of shared memory a program may use (default: %(default)s, sm_90)")
    parser.add_argument("--max-spill", type=int, default=64,
                        help="spilled bytes tolerated (default: %(default)s: the few bytes of stack ptxas chooses at"
                             " low register counts cost an L1 access a loop iteration; more means a tile too big)")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes", "y"):
        print("compile_check: unset TRITON_INTERPRET: the interpreter compiles nothing", file=sys.stderr)
        return 2
    try:
        arches = [int(a) for a in args.arch.split(",")]
        batches = [int(b) for b in args.batch.split(",")]
        hiddens = [int(h) for h in args.hidden.split(",")]
    except ValueError as exc:
        print(f"compile_check: {exc}", file=sys.stderr)
        return 2
    dtypes = args.dtype.split(",")
    if any(d not in DTYPES for d in dtypes):
        print(f"compile_check: --dtype takes {', '.join(DTYPES)}", file=sys.stderr)
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

    print(f"triton {triton.__version__}; ptxas from the triton wheel; plans for {args.num_sms} SMs; "
          f"float32 products: {args.precision}")
    failures = 0
    seen: dict = {}
    cuda = torch.device("cuda")
    for arch in arches:
        target = GPUTarget("cuda", arch, 32)
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            for batch in batches:
                for hidden in hiddens:
                    plan = kernels.plan_launch(batch, hidden, dtype, cuda, num_sms=args.num_sms,
                                               precision=args.precision)
                    print(f"sm_{arch} {dtype_name} B={batch} H={hidden}: {plan.describe(batch, hidden)}", flush=True)
                    for v in kernels.kernel_variants(plan, dtype, hidden):
                        key = (arch, v.fn.__name__, tuple(sorted(v.signature.items())),
                               tuple(sorted(v.constants.items())), v.num_warps)
                        if key not in seen:
                            seen[key] = compile_one(triton, ASTSource, target, v, args)
                        verdict, text = seen[key]
                        failures += verdict != "ok"
                        print(f"  {verdict:4} {v.label:<20} {text}", flush=True)
    print(f"{len(seen)} kernel variants compiled, {failures} failure(s) "
          f"(limits: {args.max_spill} spilled bytes, {args.max_shared} bytes of shared memory)")
    return 1 if failures else 0


def compile_one(triton, ASTSource, target, variant, args) -> tuple[str, str]:
    consts = " ".join(f"{k}={v}" for k, v in variant.constants.items())
    try:
        compiled = triton.compile(ASTSource(variant.fn, variant.signature, variant.constants), target=target,
                                  options={"num_warps": variant.num_warps})
    except Exception as exc:  # report every failure, then exit non-zero
        return "FAIL", f"{type(exc).__name__}: {str(exc)[:400]} [{consts}]"
    regs, spills = register_use(compiled)
    shared = compiled.metadata.shared
    bad = shared > args.max_shared or (spills is not None and spills > args.max_spill)
    return ("FAIL" if bad else "ok",
            f"registers {regs}, spilled {spills} B, shared {shared} B, warps {variant.num_warps} [{consts}]")


def register_use(compiled) -> tuple[int | None, int | None]:
    """Registers per thread and spilled bytes, from ptxas's report on the cubin.

    A CompiledKernel learns n_regs and n_spills only when loaded on a GPU; without one,
    ptxas is run again on the PTX with -v (the same flags triton uses) and its
    ``Used N registers`` / ``N bytes spill stores`` lines read.
    """
    import subprocess
    import tempfile

    ptx = compiled.asm["ptx"]
    arch = re.search(r"\.target\s+(sm_\w+)", ptx).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.ptx")
        with open(path, "w") as f:
            f.write(ptx)
        ptxas = ptxas_path(arch)
        proc = subprocess.run([ptxas, "-v", f"--gpu-name={arch}", path, "-o", os.path.join(tmp, "k.cubin")],
                              capture_output=True, text=True)
    report = proc.stderr + proc.stdout
    regs = re.search(r"Used (\d+) registers", report)
    spills = re.search(r"(\d+) bytes spill stores", report)
    return (int(regs.group(1)) if regs else None, int(spills.group(1)) if spills else None)


def ptxas_path(arch: str) -> str:
    """The ptxas triton itself uses (its get_ptxas changed signature across versions)."""
    from triton.backends.nvidia import compiler

    for call in (lambda: compiler.get_ptxas(int(re.sub(r"\D", "", arch))), lambda: compiler.get_ptxas()):
        try:
            found = call()
        except TypeError:
            continue
        return found.path if hasattr(found, "path") else found[0]
    return os.path.join(os.path.dirname(compiler.__file__), "bin", "ptxas")


if __name__ == "__main__":
    sys.exit(main())
