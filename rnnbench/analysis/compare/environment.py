"""What differs between the machines and software of BASE and NEW: any of it can move a timing by itself."""

from __future__ import annotations

from typing import Any

from rnnbench.records import run_threads

#: environment keys shown when they differ between BASE and NEW
ENV_KEYS = ("git_commit", "host", "cpu", "cpu_count", "python", "gpu", "rnnbench")


def env_differences(base_env: dict[str, Any], new_env: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between the two sides' machines and software (ENV_KEYS, the threads the cases ran with,
    each package version): the comparison names it because any of these can move a timing by itself."""
    differences: dict[str, tuple[Any, Any]] = {}
    for key in ENV_KEYS:
        b, n = base_env.get(key), new_env.get(key)
        if b != n:
            differences[key] = (b, n)
    b, n = run_threads(base_env), run_threads(new_env)  # what the cases ran with, not the cap
    if b.key() != n.key():
        differences["threads"] = (b.text(), n.text())
    for dist in sorted(set(base_env.get("versions") or {}) | set(new_env.get("versions") or {})):
        b, n = (base_env.get("versions") or {}).get(dist), (new_env.get("versions") or {}).get(dist)
        if b != n:
            differences[dist] = (b, n)
    return differences
