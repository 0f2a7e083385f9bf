"""Plots and reports from a small real run, and the report rebuilt from the store alone."""

import re
import shutil
import sys

import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.analysis.axes import swept_axis
from rnnbench.analysis.crossover import Crossover, crossovers
from rnnbench.render.plots import INSTALL_HINT, make_plots, pareto_front
from rnnbench.render.run_folder import write_reports
from rnnbench.store import DEFAULT_DB_NAME, load_run

SMALL = ["--models", "lstm,transformer", "--seq-len", "3,6", "--scenarios", "train,forward,decode",
         "--steps", "6", "--hidden", "8", "--batch-size", "2", "--min-time", "0.01", "--threads", "1", "--no-progress"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = run_cli("run", "--out", out, *SMALL)
    assert proc.returncode == 0, proc.stderr
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    return out, folder, proc


def test_a_run_writes_png_plots_and_says_where_its_reports_are(small_run):
    out, folder, proc = small_run
    names = {p.name for p in (folder / "plots").iterdir()}
    assert {"forward_time_per_token.png", "train_time_per_token.png", "memory.png", "accuracy.png",
            "pareto_accuracy_vs_training_time.png", "decode_latency_per_token.png",
            "decode_state_bytes.png"} <= names
    for png in (folder / "plots").iterdir():
        assert png.read_bytes()[:8] == PNG_MAGIC
    assert str(folder / "report.md") in proc.stderr.replace("\n", "")
    assert str(folder / "report.html") in proc.stderr.replace("\n", "")


def test_report_md_has_table_plots_with_captions_and_environment(small_run):
    _, folder, _ = small_run
    report = (folder / "report.md").read_text()
    for text in ("## Summary", "decode/token", "## Plots", "## Environment", "## Where attention overtakes"):
        assert text in report, text
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 7 and all((folder / image).is_file() for image in images)
    captions = re.findall(r"^\*(.+)\*$", report, flags=re.M)
    assert len(captions) == len(images)
    for caption in captions:  # what was measured, how, and on what machine with how many threads
        assert re.search(r"[Mm]edian wall-clock|Bytes of|measured as|wall-clock time|held-out", caption), caption
        assert "thread(s)" in caption and "logical CPUs" in caption


def test_report_html_is_self_contained_and_fits_a_phone(small_run):
    _, folder, _ = small_run
    page = (folder / "report.html").read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.count('src="data:image/png;base64,') >= 7
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "<link" not in page
    assert 'class="table-wrap"' in page and "overflow-x: auto" in page
    assert "lstm@torch" in page and "transformer@torch" in page


def test_the_report_is_rebuilt_from_the_store_alone(small_run, tmp_path):
    out, folder, _ = small_run
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    rebuilt = copy / folder.name
    original = (rebuilt / "report.md").read_text()
    shutil.rmtree(rebuilt)
    proc = run_cli("report", folder.name, "--out", copy)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(rebuilt / "report.md"), str(rebuilt / "report.html")]
    assert (rebuilt / "report.md").read_text() == original
    assert (rebuilt / "results.csv").is_file() and (rebuilt / "plots" / "decode_state_bytes.png").is_file()


def test_report_of_an_unknown_run_is_one_clear_line(small_run):
    out, _, _ = small_run
    proc = run_cli("report", "nope", "--out", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("rnnbench: error: unknown run id 'nope'")


def test_without_matplotlib_the_report_says_how_to_get_plots(small_run, tmp_path, monkeypatch):
    out, folder, _ = small_run
    run, results = load_run(out / DEFAULT_DB_NAME, folder.name)
    run.folder = tmp_path
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    paths = write_reports(results, run, tmp_path)
    assert paths.plots == [] and not (tmp_path / "plots").exists()
    assert INSTALL_HINT in paths.markdown.read_text()
    page = paths.html.read_text()
    assert "rnnbench[plot]" in page and "<img" not in page


def test_swept_axis_and_crossover_from_a_frame():
    frame = pd.DataFrame({
        "status": ["ok"] * 6, "model": ["lstm@torch"] * 3 + ["transformer@torch"] * 3,
        "family": ["recurrent"] * 3 + ["attention"] * 3, "seq_len": [64, 256, 1024] * 2,
        "batch_size": [4] * 6, "total_seq_len": [64, 256, 1024] * 2, "hidden": [128] * 6,
        "forward_latency_s": [64 * 4e-6, 256 * 4e-6, 1024 * 4e-6, 64 * 1e-6, 256 * 5e-6, 1024 * 20e-6],
    })
    assert swept_axis(frame) == "seq_len"
    [found] = crossovers(frame)
    assert found.ratios == pytest.approx([0.25, 1.25, 5.0])
    assert found.verdict() == "transformer@torch overtakes lstm@torch between --seq-len 64 and 256"
    assert Crossover("c", "a", "r", "seq_len", [1, 2], [2.0, 3.0]).verdict().startswith("a costs more")


def test_pareto_front_keeps_only_undominated_points():
    points = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0.5, 0.4, 0.9, 0.8]})
    assert list(pareto_front(points)["x"]) == [1.0, 3.0]
    assert list(pareto_front(points, higher_is_better=False)["x"]) == [1.0, 2.0]


def test_a_run_without_a_swept_axis_says_why_there_are_no_axis_plots(small_run, tmp_path):
    out, folder, _ = small_run
    frame = pd.read_csv(folder / "results.csv")
    one_length = frame[frame["seq_len"] == 3]
    load = load_run

    run, _ = load(out / DEFAULT_DB_NAME, folder.name)
    plots = make_plots(one_length, run.env, tmp_path)
    assert any("no numeric axis was swept" in note for note in plots.notes)
    assert any("decode ran at one context length" in note for note in plots.notes)
    assert [f.path.name for f in plots.figures] == ["pareto_accuracy_vs_training_time.png"]


def test_the_forward_caption_names_inference_mode_only_for_torch_backends():
    from rnnbench.records import CaseConfig, CaseResult
    from rnnbench.render.plots import _axis_plots, forward_modes

    def result(model, details):
        config = CaseConfig(model=model, task="copy", task_options=(), seq_len=3, batch_size=2, hidden=8, layers=1,
                            device="cpu", dtype="float32", seed=0, steps=6, lr=1e-3)
        return CaseResult(config=config, details=details)

    torch_only = forward_modes([result("lstm@torch", {"torch": "2.13"}), result("gru@triton", {"torch": "2.13"})])
    mixed = forward_modes([result("lstm@torch", {"torch": "2.13"}), result("lstm@numpy", {"numpy": "2.3"})])
    frame = pd.DataFrame({"seq_len": [3, 6]})

    def caption(modes, warmup=4):
        return {p.name: p.caption for p in _axis_plots(frame, "seq_len", "a machine", warmup, modes)}

    assert "inference forward (torch.inference_mode), divided" in caption(torch_only)["forward_time_per_token"]
    mixed_caption = caption(mixed)["forward_time_per_token"]
    assert "(numpy: a plain call, no autograd to switch off; torch: torch.inference_mode)" in mixed_caption
    assert "inference_mode" not in caption(forward_modes([result("lstm@numpy", {})]))["forward_time_per_token"]
    assert "after 4 warm-up steps" in caption(torch_only)["train_time_per_token"]


def test_the_busy_warning_stands_with_the_findings_it_qualifies(small_run, tmp_path):
    """report.md and report.html: the load warning opens the Findings section, not the end of the legend."""
    out, folder, _ = small_run
    run, results = load_run(out / DEFAULT_DB_NAME, folder.name)
    run.folder = tmp_path
    for result in results:  # as the load meter stores a case during which others kept 1.9 of 2 CPUs busy
        result.worker["threads"] = 1
        result.worker["load"] = {"wall_s": 10.0, "own_cpu_s": 9.0, "others_cpu_s": 19.0, "cores": 2,
                                 "load_average_1min_end": 4.0}
    paths = write_reports(results, run, tmp_path)
    for text in (paths.markdown.read_text(), paths.html.read_text()):
        warning = text.index("Warning: the machine was busy during")
        assert text.index("Findings") < warning < text.index("not ranked: the machine was busy") < \
            text.index("Summary"), "the warning is not with the findings"
