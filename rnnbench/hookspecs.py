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
    case becomes an error row and the sweep goes on.

    :param register: the callable that records a :class:`rnnbench.ModelSpec`.
    """


@hookspec
def rnnbench_register_tasks(register: Callable[[TaskSpec], None]) -> None:
    """Register benchmark tasks.

    Call ``register(TaskSpec(...))`` once per task. ``TaskSpec.factory(options,
    seed) -> Task`` builds a task from its validated options (a dict with the
    spec's ``options`` defaults overridden by ``--task-opt TASK.KEY=VALUE``) and a
    seed. The task must produce the same batches for the same seed.

    :param register: the callable that records a :class:`rnnbench.TaskSpec`.
    """


@hookspec
def rnnbench_register_executors(register: Callable[[ExecutorSpec], None]) -> None:
    """Register executors: the strategies that decide where cases run.

    Call ``register(ExecutorSpec(name=..., factory=...))``. The factory receives
    an :class:`rnnbench.execution.executors.ExecutorOptions` and returns an object with
    ``map(jobs) -> Iterator[CaseResult]`` (results in any order, one per job,
    errors as error results rather than exceptions) and ``close()``. The process
    that started the run receives every result and is the only writer of the
    results store, whatever the executor.
    """


@hookspec
def rnnbench_register_studies(register: Callable[[StudySpec], None]) -> None:
    """Register studies: sets of claims checked by sweeps, each answered with a verdict.

    Call ``register(StudySpec(...))`` once per study (see :mod:`rnnbench.study_api`).
    A study names the ``rnnbench run`` sweeps it needs per profile (``quick`` is
    required; ``full`` is for a GPU or a cluster) and, per claim, the sentence it
    checks, the criterion stated before anything runs, and an
    ``analyze(data: StudyData) -> ClaimOutcome`` that turns the stored results into a
    verdict (``supported``, ``not supported`` or ``inconclusive``), one figure and
    caveats. ``rnnbench study run NAME`` runs each sweep as an ordinary run in the
    results database (a stopped study continues where it stopped) and writes the
    study's report; a claim whose sweep has a failed case, or whose ``analyze``
    raises, is ``inconclusive`` with the reason. docs/studies.md shows a whole study.

    :param register: the callable that records a :class:`rnnbench.study_api.StudySpec`.
    """


@hookspec
def rnnbench_environment(env: dict[str, Any]) -> None:
    """Add facts to the environment record of a run (``env.json``).

    Called once per run, on the process that starts it, after rnnbench has filled
    in versions, CPU/GPU model, threads and the git commit. Add keys that matter
    for interpreting your plugin's numbers (a compiler version, a GPU clock).
    Mutate ``env`` in place; return nothing. Values must be JSON-serialisable.
    """


@hookspec
def rnnbench_case_finished(result: CaseResult) -> None:
    """Observe one finished case (successful or not), after it has been stored.

    ``result.status`` is ``"ok"`` or an error status (``"error"``, ``"timeout"``,
    ``"oom"``, ``"crashed"``, ``"skipped"``); ``result.metrics`` holds what was
    measured. Exceptions raised here are reported and otherwise ignored.
    """


@hookspec
def rnnbench_run_finished(run: RunInfo, results: list[CaseResult]) -> None:
    """Observe a finished run: every case has been stored and the run folder written.

    ``run.folder`` is the run's output folder (``results/<run-id>/``); a plugin may
    add files to it (an extra plot, an upload). Exceptions raised here are
    reported and otherwise ignored.
    """
