"""Where a stored run comes from: a run id, a run folder, an exported file, ``latest`` or a commit.

``rnnbench compare``, ``export`` and ``report`` name runs the same way; this module
turns such a name into a :class:`LoadedRun` (the run's :class:`RunInfo` and its
results), or into one clear :class:`UsageError`. Runs in a database are read with
:func:`rnnbench.store.load_run` (read-only), the one run loader; exported files
(``rnnbench export --format json``, written by rnnbench.render.export) are read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rnnbench.errors import UsageError
from rnnbench.records import CaseResult, RunInfo
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore, load_run

#: the ``format`` key of ``rnnbench export --format json`` files
EXPORT_FORMAT = "rnnbench-results"
#: bump when a key of the export changes meaning or disappears
EXPORT_VERSION = 1
COMMIT_PREFIX = "commit:"


@dataclass
class LoadedRun:
    """A run and its case results, with where they were read from."""

    run: RunInfo
    results: list[CaseResult]
    origin: str
    #: what the user should know about where the results came from (printed beside the output)
    notes: list[str] = field(default_factory=list)

    @property
    def commit(self) -> str | None:
        return self.run.env.get("git_commit")

    def describe(self) -> str:
        commit = self.commit
        short = commit[:10] + ("+dirty" if commit.endswith("+dirty") else "") if commit else "no commit"
        return f"run {self.run.run_id} ({short})"


def _db(out_dir: Path) -> Path:
    return Path(out_dir) / DEFAULT_DB_NAME


def _require_db(db: Path, what: str) -> None:
    if not db.exists():
        raise UsageError(f"{what}: no results database at {db} (use --out to point at the folder that holds it)")


def _from_store(db: Path, run_id: str, what: str) -> LoadedRun:
    _require_db(db, what)
    run, results = load_run(db, run_id)
    return LoadedRun(run, results, origin=f"{db}")


def newest_run_id(out_dir: Path, *, commit: str | None = None, what: str = "latest", back: int = 0) -> str:
    """The newest run in the store (``back`` runs before it), or the newest of the commit
    that ``commit`` is a prefix of."""
    _require_db(_db(out_dir), what)
    with ResultsStore.reader(_db(out_dir)) as store:
        runs = list(store.iter_runs())
    if not runs:
        raise UsageError(f"{what}: the results database {_db(out_dir)} has no runs")
    if commit is None:
        if back >= len(runs):
            raise UsageError(f"{what}: latest~{back} does not exist: {_db(out_dir)} holds {len(runs)} run(s)")
        return runs[-1 - back][0]
    prefix = commit.strip().lower()
    if not prefix:
        raise UsageError(f"{what}: empty commit")
    matching = [r for r in runs if r[2] and r[2].lower().startswith(prefix)]
    if not matching:
        known = sorted({r[2][:10] for r in runs if r[2]})
        hint = f" (commits in the store: {', '.join(known[-8:])})" if known else " (no run in it recorded a commit)"
        raise UsageError(f"{what}: no run of commit '{commit}' in {_db(out_dir)}{hint}")
    commits = {r[2].removesuffix("+dirty") for r in matching}
    if len(commits) > 1:
        raise UsageError(f"{what}: commit prefix '{commit}' is ambiguous: {', '.join(sorted(c[:12] for c in commits))}")
    return matching[-1][0]


def store_run_id(spec: str, out_dir: Path, what: str = "run") -> str:
    """The run id that ``latest``, ``latest~N`` or ``commit:SHA`` names in the store; other names unchanged."""
    spec = spec.strip()
    if spec == "latest" or spec.startswith("latest~"):
        back = spec[len("latest~"):] if "~" in spec else "0"
        if not (back.isascii() and back.isdigit()):  # '²'.isdigit() is True, and int('²') fails
            raise UsageError(f"{what}: '{spec}' is not 'latest' or 'latest~N' (N runs before the newest)")
        return newest_run_id(Path(out_dir), what=what, back=int(back))
    if spec.startswith(COMMIT_PREFIX):
        return newest_run_id(Path(out_dir), commit=spec[len(COMMIT_PREFIX):], what=what)
    return spec


def load_run_source(spec: str, out_dir: Path, what: str = "run") -> LoadedRun:
    """Resolve ``spec``: ``latest``, ``latest~N``, ``commit:SHA``, a run folder, an exported file or a run id."""
    spec = spec.strip()
    if not spec:
        raise UsageError(f"{what}: empty run name")
    out_dir = Path(out_dir)
    if spec == "latest" or spec.startswith(("latest~", COMMIT_PREFIX)):
        return _from_store(_db(out_dir), store_run_id(spec, out_dir, what), what)
    path = Path(spec)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError:  # a name no file system holds (too long): it can only be a run id
        is_dir = is_file = False
    if is_dir:
        return _from_folder(path, what)
    if is_file:
        if path.name == "results.csv":  # the CSV holds medians only; its folder's run has the samples
            loaded = _from_folder(path.parent, what)
            loaded.notes.append(
                f"{what}: {path} names run {loaded.run.run_id}; its results are read from {loaded.origin} (with"
                " the raw samples), not the CSV, so edits to the CSV are not used; to compare edited numbers,"
                " export the run (rnnbench export) and edit that file")
            return loaded
        return load_export(path, what)
    if "/" in spec or spec.endswith((".json", ".csv")):
        raise UsageError(f"{what}: no such file or folder: {spec}")
    return _from_store(_db(out_dir), spec, what)


def _from_folder(folder: Path, what: str) -> LoadedRun:
    if (folder / DEFAULT_DB_NAME).exists():
        raise UsageError(f"{what}: {folder} is a results folder, not a run; name a run in it"
                         f" (a run id, 'latest' or {folder}/<run-id>)")
    if not ((folder / "env.json").exists() or (folder / "results.csv").exists()):
        raise UsageError(f"{what}: {folder} is not an rnnbench run folder (no results.csv or env.json)")
    db = folder.resolve().parent / DEFAULT_DB_NAME
    if not db.exists():
        raise UsageError(f"{what}: the run folder {folder} has no {DEFAULT_DB_NAME} beside it, which holds its"
                         " raw samples; export runs with 'rnnbench export RUN -o FILE.json' to move them")
    return _from_store(db, folder.resolve().name, what)


def load_export(path: Path, what: str = "run") -> LoadedRun:
    """Read an ``rnnbench export --format json`` file; anything else is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        raise UsageError(f"{what}: {path} is not rnnbench output (not a text file)") from None
    except json.JSONDecodeError:
        raise UsageError(f"{what}: {path} is not rnnbench output (not JSON; expected a run id, a run folder"
                         " or a file from 'rnnbench export')") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        if isinstance(data, dict) and "benchmarks" in data and "machine_info" in data:
            raise UsageError(f"{what}: {path} is a pytest-benchmark file, which has no case ids;"
                             " compare needs 'rnnbench export --format json' output")
        raise UsageError(f"{what}: {path} is JSON but not rnnbench output (no \"format\": \"{EXPORT_FORMAT}\")")
    version = data.get("format_version")
    if not isinstance(version, int) or version > EXPORT_VERSION:
        raise UsageError(f"{what}: {path} has export format version {version!r}; this rnnbench reads up to"
                         f" {EXPORT_VERSION}: upgrade rnnbench")
    try:
        meta = data["run"]
        run = RunInfo(run_id=str(meta["run_id"]), folder=path.parent, env=dict(meta.get("env") or {}),
                      command=meta.get("command") or "", settings=dict(meta.get("settings") or {}),
                      created_at=float(meta.get("created_at") or 0.0))
        results = [CaseResult.from_dict(item) for item in data["results"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{what}: {path} is a damaged rnnbench export ({type(exc).__name__}: {exc})") from None
    return LoadedRun(run, results, origin=str(path))
