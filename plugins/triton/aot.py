"""Ahead-of-time compilation of lstm@triton's launches for an NVIDIA GPU, without one.

What runs is what is compiled: :func:`compile_launch` takes a :class:`launchers.Launch`
(built from real tensors, on the CPU) and specialises it with Triton's own binder, as
``kernel[grid](...)`` would at launch (integer arguments equal to 1 become constants,
16-divisible integers and 16-byte-aligned pointers get ``tt.divisibility``), then
compiles it for a :class:`GPUTarget` through TTGIR, PTX and ptxas (shipped in the
triton wheel). The readers below check the compiled code for what the interpreter
cannot see: registers and spills (from ``ptxas -v``), loads of the time loop issued
ahead by the software pipeliner, and products whose output several warps or threads
compute over again. ``benchmarks/compile_check.py`` runs them over every plan.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from rnnbench.plugins.triton.launchers import Launch, launch_meta


@dataclass(frozen=True)
class Specialised:
    """A launch as Triton specialises it at launch time, ready to compile."""

    key: str  # equal keys compile to the same kernel
    source: object  # an ASTSource
    target: GPUTarget
    options: dict
    constants: tuple[str, ...]  # "name=value" of the runtime arguments that became constants


def specialise(launch: Launch, arch: int = 90) -> Specialised:
    """``launch`` specialised by Triton's own binder, as a launch on compute capability ``arch`` would."""
    from triton.compiler.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    fn = launch.kernel
    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    kwargs = {**launch_meta(launch, "cuda"), "debug": False}
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*launch.args, **kwargs)
    options, signature, constexprs, attrs = fn._pack_args(backend, kwargs, bound, specialization, options)
    declared = {name for name, kind in zip(fn.arg_names, (p.is_constexpr for p in fn.params)) if kind}
    names = list(fn.arg_names)
    constants = tuple(f"{names[path[0]]}={value}" for path, value in constexprs.items()
                      if names[path[0]] not in declared)
    key = f"{arch} {fn.__name__} {specialization} {sorted(kwargs.items())}"
    return Specialised(key, ASTSource(fn, signature, constexprs, attrs), target, options.__dict__, constants)


def compile_specialised(spec: Specialised):
    return triton.compile(spec.source, target=spec.target, options=spec.options)


def compile_launch(launch: Launch, arch: int = 90):
    """The CompiledKernel that ``launch`` would run on a CUDA GPU of compute capability ``arch``."""
    return compile_specialised(specialise(launch, arch))


def register_use(compiled) -> tuple[int | None, int | None]:
    """Registers per thread and spilled bytes, from ptxas's report on the cubin.

    A CompiledKernel learns n_regs and n_spills only when loaded on a GPU; without one,
    ptxas is run again on the PTX with -v and its ``Used N registers`` / ``N bytes spill
    stores`` lines read.
    """
    ptx = compiled.asm["ptx"]
    arch = re.search(r"\.target\s+(sm_\w+)", ptx).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.ptx")
        with open(path, "w") as f:
            f.write(ptx)
        proc = subprocess.run([ptxas_path(arch), "-v", f"--gpu-name={arch}", path, "-o", os.path.join(tmp, "k.cubin")],
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


_TIME_LOOP = re.compile(r"= scf\.for %\S+ = %(t_start|s_start|c0_i32) to %(t_stop|s_stop|steps)\b")


def time_loop_prefetches(ttgir: str) -> list[str]:
    """What the software pipeliner issues ahead of the time loop's steps (empty: nothing).

    The time loop is the ``scf.for`` from t_start to t_stop (s_start to s_stop in the
    backward). Any asynchronous copy before it, or an async token it carries from one
    iteration to the next, is a load of a later step issued before the step that writes
    its data (h_{t-1} or δgates_{t+1}) has run.
    """
    lines = ttgir.splitlines()
    start = next((i for i, line in enumerate(lines) if _TIME_LOOP.search(line)), None)
    if start is None:
        return ["no time loop found in the TTGIR"]
    found = [f"before the time loop: {line.strip()[:160]}" for line in lines[:start]
             if "async_copy" in line or "async_tma_copy" in line or "ttng.async" in line]
    if "!ttg.async.token" in lines[start]:
        found.append(f"the time loop carries async tokens across steps: {lines[start].strip()[:160]}")
    return found


_LAYOUT = re.compile(r"^(#\w+) = #ttg\.(\w+)<\{(.*)\}>", re.M)


def _layouts(ttgir: str) -> dict[str, tuple[str, dict]]:
    out = {}
    for name, kind, body in _LAYOUT.findall(ttgir):
        fields = {key: [int(v) for v in re.findall(r"\d+", value)]
                  for key, value in re.findall(r"(\w+) = (\[[^\]]*\]|\d+)", body)}
        out[name] = (kind, fields)
    return out


def _coverage(kind: str, fields: dict, rank: int) -> list[int] | None:
    """Rows/columns one pass of a layout covers (elements that distinct threads hold)."""
    if kind == "blocked":
        return [s * t * w for s, t, w in zip(fields["sizePerThread"], fields["threadsPerWarp"],
                                             fields["warpsPerCTA"])]
    if kind == "nvidia_mma":
        warps = fields["warpsPerCTA"]
        instr = fields["instrShape"]
        if fields["versionMajor"][0] == 3:  # a warpgroup of 4 warps covers 64 rows
            return [16 * warps[0], instr[1] * warps[1]]
        return [instr[0] * warps[0], instr[1] * warps[1]]
    return None


def redundant_products(ttgir: str) -> list[tuple[str, int]]:
    """Products (tt.dot, warp-group dots, and the reductions of broadcast products) whose
    output layout covers more elements than the result has, with the factor by which
    warps or threads compute each output over again (1 is none; only > 1 is listed)."""
    layouts = _layouts(ttgir)
    found = []
    dots = re.compile(r"(tt\.dot|ttng\.warp_group_dot)\b.*?->\s*tensor<([\dx]+)x\w+, (#\w+)>")
    reduces = re.compile(r"\"(tt\.reduce)\".*?\(tensor<([\dx]+)x\w+, (#\w+)>")  # the reduced product's layout
    for line in ttgir.splitlines():
        m = dots.search(line) or reduces.search(line)
        if not m:
            continue
        op, shape_text, layout = m.groups()
        shape = [int(d) for d in shape_text.split("x")]
        if layout not in layouts:
            continue
        kind, fields = layouts[layout]
        cover = _coverage(kind, fields, len(shape))
        if cover is None or len(cover) != len(shape):
            continue
        factor = math.prod(max(1, c // s) for c, s in zip(cover, shape))
        if factor > 1:
            found.append((f"{op} -> {shape_text} in {kind} {fields.get('warpsPerCTA')}", factor))
    return found
