"""The plugin contract of rnnbench: every hook a plugin may implement.

This module is the reference documentation for plugin authors. A plugin is any
module that defines functions named like the hooks below, decorated with
:data:`rnnbench.hookimpl`, and that is made known to rnnbench in one of two ways:

* an entry point in the ``rnnbench`` group of an installed distribution::

      [project.entry-points.rnnbench]
      mymodel = "rnnbench_mymodel.plugin"

* ``-p module.path`` on the command line (as ``pytest -p``), for plugins that are
  not installed, e.g. a test suite's own plugins.

Registration hooks receive a ``register`` callable and call it once per thing they
provide. rnnbench validates each spec as it is registered and attributes errors to
the plugin that registered it, so a broken plugin cannot take the others down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    from rnnbench.records import CaseResult, RunInfo
    from rnnbench.specs import ExecutorSpec, ModelSpec, TaskSpec
    from rnnbench.study_api import StudySpec

PROJECT_NAME = "rnnbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def rnnbench_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register model implementations.

    Call ``register(ModelSpec(...))`` once per model. A model is named
    ``ARCH@BACKEND`` (``lstm@torch``, ``lstm@numpy``); the pair must be unique
    across all plugins. A spec with ``default_for_arch=True`` is what a bare
    ``ARCH`` means on the command line (the built-in torch models are the
    defaults for ``rnn``, ``lstm``, ``gru`` and ``transformer``).

    ``ModelSpec.factory(config: ModelConfig) -> Model`` builds the model. It is
    called once per case, inside the case's error boundary: if it raises, that
    case becomes an error row and the sweep goes on. Model options declared in
    ``ModelSpec.options`` reach the factory as ``config.options``.

    :called: once per process, when the plugins are loaded (``rnnbench list``, the
        start of a run, each worker process of ``--executor process`` or ``dask``).
    :returns: nothing; a spec that fails validation or reuses a taken name is
        reported as a warning naming the plugin and its distribution, and ignored.
    :param register: the callable that records a :class:`rnnbench.ModelSpec`.

    Example::

        import rnnbench
        from rnnbench_mymodel.model import make_model

        @rnnbench.hookimpl
        def rnnbench_register_models(register):
            register(rnnbench.ModelSpec(
                arch="mingru", backend="example", family="recurrent", factory=make_model,
                dtypes=("float32", "float64"), default_for_arch=True,
                options={"scan": "parallel"},
                option_help={"scan": "parallel (log-space scan) or sequential (a loop over T)"},
                description="minGRU (Feng et al. 2024)",
            ))
    """


@hookspec
def rnnbench_register_tasks(register: Callable[[TaskSpec], None]) -> None:
    """Register benchmark tasks.

    Call ``register(TaskSpec(...))`` once per task. ``TaskSpec.factory(options,
    seq_len, seed) -> Task`` builds a task from its validated options (a dict with
    the spec's ``options`` defaults overridden by ``--task-opt TASK.KEY=VALUE``),
    the case's ``--seq-len`` and a seed. The task must produce the same batches for
    the same seed.

    :called: once per process, when the plugins are loaded (as the model hook).
    :returns: nothing; invalid or duplicate specs are reported and ignored.
    :param register: the callable that records a :class:`rnnbench.TaskSpec`.

    Example::

        import rnnbench
        from rnnbench_mymodel.task import ParityTask

        @rnnbench.hookimpl
        def rnnbench_register_tasks(register):
            register(rnnbench.TaskSpec(
                name="parity",
                factory=lambda options, seq_len, seed: ParityTask(seq_len, seed),
                defaults=rnnbench.TaskDefaults(seq_len=12, batch_size=64, steps=300, lr=1e-2),
                seq_len_meaning="number of bits",
                description="running parity of a bit string",
            ))
    """


@hookspec
def rnnbench_register_executors(register: Callable[[ExecutorSpec], None]) -> None:
    """Register executors: the strategies that decide where cases run.

    Call ``register(ExecutorSpec(name=..., factory=...))``. The factory receives
    an :class:`rnnbench.specs.ExecutorOptions` and returns an object with
    ``map(jobs) -> Iterator[CaseResult]`` (results in any order, one per job,
    errors as error results rather than exceptions) and ``close()``. The process
    that started the run receives every result and is the only writer of the
    results store, whatever the executor.

    :called: once per process, when the plugins are loaded; the factory of the
        executor named by ``--executor`` is called once per run.
    :returns: nothing; invalid or duplicate specs are reported and ignored.
    :param register: the callable that records a :class:`rnnbench.ExecutorSpec`.

    Example::

        import rnnbench

        @rnnbench.hookimpl
        def rnnbench_register_executors(register):
            register(rnnbench.ExecutorSpec(
                name="slurm", factory=SlurmExecutor, description="one Slurm job per case",
            ))
    """


@hookspec
def rnnbench_register_studies(register: Callable[[StudySpec], None]) -> None:
    """Register studies: sets of claims checked by sweeps, each answered with a verdict.

    Call ``register(StudySpec(...))`` once per study (see :mod:`rnnbench.study_api`).
    A study names the ``rnnbench run`` sweeps it needs per profile (``quick`` is
    required; ``full`` is for a GPU or a cluster) and, per claim, the sentence it
    checks, the criterion stated before anything runs, and an
    ``analyze(data: StudyData) -> ClaimOutcome`` that turns the stored results into a
    verdict (``supported``, ``not supported``, ``mixed`` or ``inconclusive``), one figure and
    caveats. ``rnnbench study run NAME`` runs each sweep as an ordinary run in the
    results database (a stopped study continues where it stopped) and writes the
    study's report; a claim whose sweep has a failed case, or whose ``analyze``
    raises, is ``inconclusive`` with the reason. docs/studies.md shows a whole study.

    :called: once per process, when the plugins are loaded (``rnnbench study list``,
        ``rnnbench study run``, and whenever the other registration hooks are called).
    :returns: nothing; invalid or duplicate specs are reported and ignored.
    :param register: the callable that records a :class:`rnnbench.study_api.StudySpec`.

    Example::

        import rnnbench
        from rnnbench.study_api import Claim, StudySpec, StudySweep
        from rnnbench_mymodel.study import CRITERION, analyze

        @rnnbench.hookimpl
        def rnnbench_register_studies(register):
            sweeps = (StudySweep("parity", {"models": "lstm,mingru", "tasks": "parity",
                                            "seeds": "0,1", "scenarios": "train"}),)
            register(StudySpec(
                name="state-tracking", description="minGRU cannot track parity",
                claims=(Claim(key="state-tracking", title="minGRU cannot track parity",
                              quote="the sentence you check", criterion=CRITERION,
                              sweeps=("parity",), analyze=analyze),),
                profiles={"quick": sweeps, "full": sweeps},
            ))
    """


@hookspec
def rnnbench_environment(env: dict[str, Any]) -> None:
    """Add facts to the environment record of a run (``env.json``).

    Called once per run, on the process that starts it, after rnnbench has filled
    in versions, CPU/GPU model, threads and the git commit. Add keys that matter
    for interpreting your plugin's numbers (a compiler version, a GPU clock).
    rnnbench already records every plugin's distribution and version under
    ``env["plugins"]``, so there is no need to add your own version.

    :called: once per run (and by ``rnnbench env``), on the process that starts it.
    :returns: nothing: mutate ``env`` in place. Values must be JSON-serialisable.
        An exception is reported as a warning and the run goes on.
    :param env: the environment record, already filled in.

    Example::

        import os
        import rnnbench

        @rnnbench.hookimpl
        def rnnbench_environment(env):
            # a setting that changes what your kernels do, so results can be read later
            env["mymodel_kernel"] = os.environ.get("MYMODEL_KERNEL", "default")
    """


@hookspec
def rnnbench_case_finished(result: CaseResult) -> None:
    """Observe one finished case (successful or not), after it has been stored.

    ``result.status`` is ``"ok"`` or an error status (``"error"``, ``"timeout"``,
    ``"oom"``, ``"crashed"``, ``"skipped"``); ``result.metrics`` holds what was
    measured.

    :called: once per case, in the process that started the run, after the case's
        row is stored (whatever executor ran it).
    :returns: nothing. Exceptions raised here are reported and otherwise ignored.
    :param result: the case's :class:`rnnbench.records.CaseResult`.

    Example::

        import rnnbench

        @rnnbench.hookimpl
        def rnnbench_case_finished(result):
            if result.status != "ok":
                print(f"{result.config.model} failed: {result.error}")
    """


@hookspec
def rnnbench_run_finished(run: RunInfo, results: list[CaseResult]) -> None:
    """Observe a finished run: every case has been stored and the run folder written.

    ``run.folder`` is the run's output folder (``results/<run-id>/``); a plugin may
    add files to it (an extra plot, an upload).

    :called: once per run, after the last case is stored and ``results/<run-id>/``
        (results.csv, env.json, report.md, plots) is written. Not called when the
        run is interrupted (it is called when the run is resumed and finishes).
    :returns: nothing. Exceptions raised here are reported and otherwise ignored.
    :param run: the run's :class:`rnnbench.records.RunInfo` (``run_id``, ``folder``, ``env``).
    :param results: every case result stored for the run (on a resumed run, those
        of the earlier attempts too).

    Example::

        import json
        import rnnbench

        @rnnbench.hookimpl
        def rnnbench_run_finished(run, results):
            failed = [r.config.model for r in results if r.status != "ok"]
            (run.folder / "failed.json").write_text(json.dumps(failed))
    """
