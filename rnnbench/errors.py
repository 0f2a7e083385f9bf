"""Errors that the CLI turns into one clear line and a non-zero exit."""


class RnnbenchError(Exception):
    """An error whose message is meant for the user, printed without a traceback."""

    exit_code = 1


class UsageError(RnnbenchError):
    """The user asked for something that cannot be done (bad option, unknown name)."""

    exit_code = 2


class PluginError(RnnbenchError):
    """A plugin failed to load or registered something invalid. Names the plugin."""

    def __init__(self, plugin: str, message: str, distribution: str | None = None):
        self.plugin = plugin
        self.distribution = distribution
        where = f"plugin '{plugin}'" + (f" (from {distribution})" if distribution else "")
        super().__init__(f"{where}: {message}")


class OptionError(UsageError):
    """A bad model or task option (``--model-opt``/``--task-opt`` or a sweep file's ``[model_opt.X]``).

    Raised at expansion, where the layer a value came from is no longer known; the command
    that read the layers calls :meth:`located` to name the sweep file and key when it came from one.
    """

    def __init__(self, kind: str, owner: str, key: str | None, detail: str, file: str | None = None):
        self.kind, self.owner, self.key, self.detail, self.file = kind, owner, key, detail, file
        if file is not None:
            where = f"{file}: [{kind}.{owner}]" + (f" '{key}'" if key is not None else "")
        else:
            where = f"--{kind.replace('_', '-')} {owner}" + (f".{key}" if key is not None else "")
        super().__init__(f"{where}: {detail}")

    def located(self, file: str) -> "OptionError":
        return OptionError(self.kind, self.owner, self.key, self.detail, file)
