"""Issue 40: progress within a case (steps, loss, time left), reported between steps and throttled."""

import dataclasses
import io
import os
import pty
import re
import select
import sys
import time

import pytest
from rich.console import Console

from rnnbench.execution import runner
from rnnbench.execution.progress import StepReporter, TrainingProgress
from rnnbench.records import CaseConfig, RunSettings
from rnnbench.render.progress import TerminalCaseProgress, run_progress, training_fields

CASE = CaseConfig(model="gru@torch", task="copy", task_options=(("alphabet_size", 8), ("num_symbols", 4)),
                  seq_len=4, batch_size=8, hidden=8, layers=1, device="cpu", dtype="float32", seed=0, steps=6,
                  lr=1e-2)
SETTINGS = RunSettings(scenarios=("train", "forward"), thread_cap=1, eval_batches=1, train_warmup_steps=1)


class Recorder:
    """A CaseObserver that keeps what it hears."""

    def __init__(self):
        self.events = []

    def case_started(self, config):
        self.events.append(("started", config.model))

    def phase(self, description):
        self.events.append(("phase", description))

    def training(self, progress):
        self.events.append(("training", progress))


class Ticking:
    """A clock that moves by ``step`` seconds per read."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_the_runner_reports_phases_and_every_step_when_the_clock_allows(registry, monkeypatch):
    monkeypatch.setattr("rnnbench.execution.progress.MIN_UPDATE_INTERVAL_S", 0.0)
    recorder = Recorder()
    result = runner.run_case(CASE, registry, SETTINGS, recorder)
    assert result.status == "ok", result.error
    phases = [e[1] for e in recorder.events if e[0] != "training"]
    assert phases == ["gru@torch", "training", "testing", "timing forward"]
    steps = [e[1] for e in recorder.events if e[0] == "training"]
    assert [s.steps_done for s in steps] == [1, 2, 3, 4, 5, 6] and all(s.total_steps == 6 for s in steps)
    assert [s.elapsed_s for s in steps] == sorted(s.elapsed_s for s in steps)
    losses = result.curve("train", "loss_curve").y
    assert steps[-1].loss == pytest.approx(losses[-1])


def test_updates_are_throttled_but_the_first_and_last_steps_always_arrive():
    recorder = Recorder()
    reporter = StepReporter(recorder, total_steps=100, budget_s=None, interval=0.25, clock=Ticking(0.01))
    for step in range(1, 101):
        reporter.step_done(step, 1.0 / step, step * 0.01)
    done = [e[1].steps_done for e in recorder.events]
    assert done[0] == 1 and done[-1] == 100
    assert len(done) <= 100 * 0.01 / 0.25 + 2  # at most one per 0.25 s of clock, plus the last
    assert all(b - a >= 25 for a, b in zip(done, done[1:-1]))


def test_a_failing_observer_does_not_fail_the_case(registry):
    class Broken(Recorder):
        def training(self, progress):
            raise RuntimeError("display gone")

    result = runner.run_case(dataclasses.replace(CASE, steps=2), registry,
                             dataclasses.replace(SETTINGS, scenarios=("train",)), Broken())
    assert result.status == "ok", result.error


def test_time_left_counts_down_the_steps_or_the_budget():
    by_steps = TrainingProgress(steps_done=100, total_steps=400, loss=0.5, elapsed_s=10.0)
    assert by_steps.remaining_s() == pytest.approx(30.0) and by_steps.fraction() == pytest.approx(0.25)
    budget = TrainingProgress(steps_done=7, total_steps=None, loss=0.5, elapsed_s=12.0, budget_s=30.0)
    assert budget.remaining_s() == pytest.approx(18.0)
    assert training_fields(by_steps) == {"count": "step 100/400", "detail": "loss 0.5, ~0:00:30 left"}
    assert training_fields(budget) == {"count": "step 7", "detail": "loss 0.5, 0:00:18 left"}


def test_the_case_row_fits_100_columns_and_hides_between_cases():
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    progress = run_progress(console)
    progress.add_task("run 20261207-182920-2258", total=3)
    row = TerminalCaseProgress(progress)
    long = dataclasses.replace(CASE, model="transformer@torch", model_options=(("heads", 4), ("norm", "pre")))
    row.case_started(long)
    row.phase("training")
    row.training(TrainingProgress(steps_done=1234, total_steps=100000, loss=0.000123456, elapsed_s=3600.0))
    lines = _render(progress, console, out)
    assert any("step 1234/100000" in line and "loss 0.000123, ~" in line and "left" in line for line in lines)
    assert max(len(line) for line in lines) <= 100
    row.case_finished()
    assert not any("step" in line for line in _render(progress, console, out))


def _render(progress, console, out):
    out.seek(0)
    out.truncate()
    console.print(progress.get_renderable())
    return [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", line).rstrip() for line in out.getvalue().splitlines()]


@pytest.mark.slow
def test_a_100_column_terminal_shows_training_advance(tmp_path):
    """The acceptance check: a real run in a pty of 100 columns shows the step count and loss moving."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a 100-column terminal
        os.environ.update(COLUMNS="100", LINES="30")
        os.execvp(sys.executable, [sys.executable, "-m", "rnnbench.cli", "run", "--models", "gru", "--tasks", "copy",
                                   "--steps", "3000", "--hidden", "8", "--batch-size", "4", "--seq-len", "4",
                                   "--threads", "1", "--scenarios", "train", "--out", str(tmp_path)])
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    chunks, deadline = [], time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    os.waitpid(pid, 0)
    # rich redraws a row after moving the cursor up and erasing the line: each redraw is a line here
    rows = [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", row) for row in
            re.split(r"\r|\n|\x1b\[\d*[AK]", b"".join(chunks).decode("utf8", "replace"))]
    case_rows = [row for row in rows if re.search(r"step \d+/3000", row)]
    steps = [int(re.search(r"step (\d+)/3000", row).group(1)) for row in case_rows]
    assert len(set(steps)) >= 2 and steps == sorted(steps), steps[:20]
    assert all(re.search(r"loss \S+, ~\d:\d\d:\d\d left$", row.rstrip()) for row in case_rows), case_rows[:3]
    too_wide = [row for row in rows if len(row.rstrip()) > 100]
    assert not too_wide, too_wide[:3]


def test_piped_the_run_prints_its_bar_once_and_no_case_row(cli, tmp_path):
    proc = cli("run", "--models", "gru", "--tasks", "copy", "--steps", "5", "--hidden", "8", "--batch-size", "4",
               "--seq-len", "4", "--threads", "1", "--scenarios", "train", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1/1" in proc.stderr  # the run's bar, drawn once at its end
    assert "step " not in proc.stderr and "loss " not in proc.stderr and "starting" not in proc.stderr
