"""The run service below the CLI (rnnbench.run_service): ``run`` and ``study run`` run a request alike."""

from __future__ import annotations

import json
import sqlite3

import pytest

from rnnbench.execution.load import MachineLoad
from rnnbench.run_service import ProcessStart, start_process

STUDY_PLUGINS = ["-p", "testplugins.tiny_study", "-p", "testplugins.tiny", "-p", "testplugins.paced"]
#: what a run's environment records about the machine and the threading chosen from it
LOAD_FACTS = ("machine_load", "threading", "openmp_wait_policy")


def environments(out):
    with sqlite3.connect(out / "rnnbench.db") as db:
        rows = db.execute("SELECT env_json, settings_json FROM runs ORDER BY created_at").fetchall()
    return [(json.loads(env), json.loads(settings)) for env, settings in rows]


@pytest.mark.slow
def test_study_sweeps_store_the_load_and_threading_facts_that_run_stores(cli, tmp_path):
    ran = cli("run", "-p", "testplugins.tiny", "--models", "tiny@test", "--tasks", "copy", "--seq-len", "4",
              "--hidden", "8", "--steps", "3", "--batch-size", "8", "--scenarios", "train", "--threads", "1",
              "--no-progress", "--out", tmp_path / "run")
    assert ran.returncode == 0, ran.stderr
    studied = cli("study", "run", "tiny-study", *STUDY_PLUGINS, "--threads", "1", "--no-progress",
                  "--out", tmp_path / "study")
    assert studied.returncode == 0, studied.stderr
    [(run_env, _)] = environments(tmp_path / "run")
    sweeps = environments(tmp_path / "study")
    assert [settings["study"]["sweep"] for _, settings in sweeps] == ["fast", "slow"]
    for env, _ in sweeps:
        assert all(k in env for k in LOAD_FACTS) and all(k in run_env for k in LOAD_FACTS)
        assert env["openmp_wait_policy"] == run_env["openmp_wait_policy"]
        assert env["threading"].keys() == run_env["threading"].keys()
        assert env["machine_load"].keys() == run_env["machine_load"].keys()
        assert env["threading"]["threads"] == run_env["threading"]["threads"] == 1
        assert env["threading"]["automatic"] is run_env["threading"]["automatic"] is False


def _load(others: float, cores: int = 2) -> MachineLoad:
    return MachineLoad(cores=cores, sample_s=0.1, others_runnable=others, others_cpus=others, load_average=None)


def test_a_sweep_asking_for_other_threads_gets_its_own_choice_from_the_same_sample(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    from rnnbench.execution.thread_policy import choose_threading

    machine = _load(others=3.0)
    start = ProcessStart(machine=machine, requested=None, threading=choose_threading(None, machine), too_late=None)
    assert start.for_threads(None) is start
    one = start.for_threads(1)
    assert one.machine is machine and one.threading.threads == 1 and not one.threading.automatic
    env, notes = one.facts()
    assert env["threading"]["threads"] == 1 and env["machine_load"] == machine.facts()


def test_start_process_samples_the_machine_and_records_what_it_chose(monkeypatch):
    import rnnbench.run_service as service

    monkeypatch.setattr(service, "sample_machine", lambda: _load(others=0.0))
    monkeypatch.setattr(service, "sigterm_as_interrupt", lambda: None)
    start = start_process(2)
    env, notes = start.facts()
    assert start.requested == 2 and env["threading"]["threads"] == 2 and not env["threading"]["automatic"]
    assert notes == []  # an idle machine: nothing to warn about
