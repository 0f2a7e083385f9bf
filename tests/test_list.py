"""`rnnbench list` prints what plugins supply verbatim, with descriptions, options, dtypes and origins."""

import subprocess
import sys

import rnnbench
from conftest import cli_env


def test_list_prints_availability_and_descriptions_verbatim(cli):
    proc = cli("list", "-p", "testplugins.bracketed")
    assert proc.returncode == 0, proc.stderr
    assert "no: install rnnbench-mymodel[gpu]" in proc.stdout
    assert "a [bold]literal[/bold]" in proc.stdout  # markup in a description is shown, not applied
    assert "-p testplugins.bracketed" in proc.stdout  # where it came from: no installed distribution


def test_list_shows_install_rnnbench_triton_in_full_when_triton_is_missing():
    # sys.modules["triton"] = None makes importlib.util.find_spec("triton") return None: triton
    # looks uninstalled to this process only, whatever the environment holds.
    code = "import sys; sys.modules['triton'] = None; from rnnbench.cli import main; sys.exit(main(['list']))"
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [row] = [line for line in proc.stdout.splitlines() if "lstm@triton" in line]
    assert "no: install rnnbench[triton]" in row


def test_list_shows_options_train_dtypes_origins_and_task_defaults(cli):
    proc = cli("list")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "causal pre-LN Transformer" in out  # descriptions
    assert "heads=0 (attention heads" in out  # model options with their help
    assert "train: float32, float64, bfloat16;" in out and "forward/decode only: float16" in out
    assert f"rnnbench {rnnbench.__version__}" in out  # the distribution that registered it
    assert "lr=0.002 lr[recurrent]=0.003" in out  # lm's per-family rate, not eaten as markup


def test_list_plugins_names_each_plugins_distribution_and_version(cli):
    proc = cli("list", "--plugins")
    assert proc.returncode == 0, proc.stderr
    [row] = [line for line in proc.stdout.splitlines() if "rnnbench.plugins.torch.plugin" in line]
    assert "rnnbench" in row and rnnbench.__version__ in row and "deltanet@torch" in row
    assert "transformer@torch" in proc.stdout  # the torch plugin's models wrap over several lines


def test_env_records_every_plugins_distribution_and_version(cli):
    import json

    proc = cli("env")
    plugins = json.loads(proc.stdout)["plugins"]
    assert plugins["torch"] == {"module": "rnnbench.plugins.torch.plugin", "distribution": "rnnbench",
                                "version": rnnbench.__version__, "via": "entry point"}
