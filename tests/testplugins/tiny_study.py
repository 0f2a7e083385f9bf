"""A study for end-to-end tests: two tiny sweeps (the second paced, so it can be stopped half-way)."""

import rnnbench
from rnnbench.analysis.verdicts import threshold
from rnnbench.study_api import Claim, ClaimOutcome, StudyFigure, StudySpec, StudySweep


def _accuracy_gap(data, sweep):
    out = {}
    for r in data.sweep(sweep).results:
        acc, chance = r.metric("train", "eval_accuracy"), r.metric("train", "baseline_accuracy")
        out[r.config.seed] = abs(acc.value - chance.value) if r.status == "ok" and acc and chance else None
    return out


def _figure(data, name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    FigureCanvasAgg(figure)
    figure.add_subplot(1, 1, 1).plot([0, 1], [0, 1])
    path = data.folder / f"{name}.png"
    figure.savefig(path)
    return StudyFigure(path, name, "a line")


def chance_claim(sweep):
    def analyze(data):
        verdict = threshold("|accuracy - chance|", _accuracy_gap(data, sweep), 0.5, above=False)
        return ClaimOutcome(verdict, figure=_figure(data, sweep), setup=[f"sweep {sweep}"])
    return analyze


SWEEPS = (
    StudySweep("fast", {"models": "tiny@test", "tasks": "copy", "seq_len": 4, "hidden": 8, "steps": 3,
                        "batch_size": 8, "seeds": "0,1", "scenarios": "train"}, purpose="two tiny cases",
               side_by_side=True),
    StudySweep("slow", {"models": "paced@test", "tasks": "copy", "seq_len": 4, "hidden": 8, "steps": 40,
                        "batch_size": 8, "seeds": "0,1,2,3,4,5", "scenarios": "train"},
               purpose="six paced cases of about 0.3 s each"),
)


@rnnbench.hookimpl
def rnnbench_register_studies(register):
    claims = tuple(Claim(key=s.name, title=f"a memoryless model sits near chance ({s.name})", quote="“no memory”",
                         criterion="supported when |accuracy - chance| < 0.5 in every seed", sweeps=(s.name,),
                         analyze=chance_claim(s.name)) for s in SWEEPS)
    register(StudySpec(name="tiny-study", description="end-to-end test study", claims=claims,
                       profiles={"quick": SWEEPS, "full": SWEEPS}))
