"""A plugin with a hook wrapper, which rnnbench refuses at load (docs/plugins.md, "Hook options")."""

import rnnbench


@rnnbench.hookimpl(wrapper=True)
def rnnbench_case_finished(result):
    return (yield)
