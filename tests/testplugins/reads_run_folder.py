"""An rnnbench_run_finished hook that reads the run folder (it must be written by then), and a one-sweep study."""

import csv
import json

import rnnbench
from rnnbench.study_api import Claim, ClaimOutcome, StudySpec, StudySweep, Verdict


@rnnbench.hookimpl
def rnnbench_run_finished(run, results):
    with open(run.folder / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seen = {"rows": len(rows), "results": len(results), "files": sorted(p.name for p in run.folder.iterdir())}
    (run.folder / "seen-by-hook.json").write_text(json.dumps(seen))


SWEEP = StudySweep("one", {"models": "tiny@test", "tasks": "copy", "seq_len": 4, "hidden": 8, "steps": 2,
                           "batch_size": 4, "seeds": "0", "scenarios": "train"}, purpose="one tiny case")


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    claim = Claim(key="ran", title="the sweep ran", quote="“it runs”", criterion="supported when it ran",
                  sweeps=("one",), analyze=lambda data: ClaimOutcome(Verdict("supported", "it ran")))
    register(StudySpec(name="folder-study", description="run_finished reads the run folder", claims=(claim,),
                       profiles={"quick": (SWEEP,), "full": (SWEEP,)}))
