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
