"""The environment of a run: what a number depends on besides the case itself."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import rnnbench


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the git checkout the command runs in, if any (``+dirty`` if modified)."""
    cwd = str(path or Path.cwd())
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info()]


def collect_environment(thread_cap: int) -> dict[str, Any]:
    """The run's environment; ``thread_cap`` is the most threads a case may take (what each case ran with is
    its own record, and the run's ``threads_ran`` once it ends: rnnbench.execution.session)."""
    env: dict[str, Any] = {
        "rnnbench": rnnbench.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "thread_cap": thread_cap,
        # how busy the machine was when the run began: timings on a shared machine are noisier
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "git_commit": git_commit(),
        "versions": {d: _version(d) for d in ("numpy", "torch", "pandas", "pluggy", "triton", "distributed")},
        "blas": blas_info(),
    }
    try:
        import torch

        env["torch_threads_default"] = torch.get_num_threads()
        env["cuda"] = torch.cuda.is_available()
        if env["cuda"]:
            env["gpu"] = torch.cuda.get_device_name(0)
            env["cuda_version"] = torch.version.cuda
            env["cudnn_version"] = torch.backends.cudnn.version()
            # No TF32 flags here: models set them when they are built, after this record is taken,
            # so each case records the setting it ran with (its "tf32" detail).
        env["mkldnn"] = torch.backends.mkldnn.is_available()
    except ImportError:  # pragma: no cover
        env["cuda"] = False
    return env
