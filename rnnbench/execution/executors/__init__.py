"""The built-in executors: ``local``, ``process`` and ``dask``.

Their contract (:class:`~rnnbench.specs.ExecutorSpec`, :class:`~rnnbench.specs.ExecutorOptions`,
:class:`~rnnbench.specs.Executor`) is part of the plugin API in :mod:`rnnbench.specs`.
"""
