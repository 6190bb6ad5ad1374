"""Issue 7: user files are data. No pickle or eval anywhere; names and metadata are escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
EVIL = "<script>alert(1)</script>"

# Ways to run code hidden in a file, or code from a string.
FORBIDDEN = {
    "pickle": re.compile(r"\b(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b"),
    "torch.load": re.compile(r"\btorch\s*\.\s*(jit\s*\.\s*)?load\b"),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "eval(": re.compile(r"(?<![\w.])eval\s*\("),  # NOTE: ast.literal_eval and x.eval() are fine
    "exec(": re.compile(r"(?<![\w.])exec\s*\("),
}


def _sources() -> list[Path]:
    return sorted(p for folder in ("privaudit", "attacks", "reports")
                  for p in (ROOT / folder).rglob("*.py"))


def test_no_pickle_torch_load_eval_or_exec_in_the_source() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]
    assert len(_sources()) > 20
    assert hits == []


@pytest.mark.parametrize("line", [
    "import pickle", "obj = pickle.loads(b)", "torch.load(path)", "torch.jit.load(p)",
    "np.load(p, allow_pickle=True)", "eval(text)", "exec(code)", "import dill",
])
def test_the_patterns_catch_what_they_should(line: str) -> None:
    assert any(p.search(line) for p in FORBIDDEN.values())


@pytest.mark.parametrize("line", [
    "ast.literal_eval(text)", "model.eval()", "encoder.eval().to(device)", "allow_pickle=False",
    "# no unpickling here", "def evaluate_gate(x):", "executor = None",
])
def test_the_patterns_let_harmless_code_through(line: str) -> None:
    assert not any(p.search(line) for p in FORBIDDEN.values())


# --- names and metadata from the model are data --------------------------------------------------


def _evil_model(source: Path, target: Path, marker: str) -> str:
    """The CNN with `marker` in its cut tensor, input, node names and metadata; the cut's name."""
    model = onnx.load(source)
    cut_old = "/layer3/layer3.1/Sigmoid_output_0"
    renamed = {cut_old: f"{marker}|cut|`x`", "input": f"{marker}|input|"}
    graph = model.graph
    for node in graph.node:
        node.input[:] = [renamed.get(t, t) for t in node.input]
        node.output[:] = [renamed.get(t, t) for t in node.output]
        node.name = node.name.replace("/layer3", f"/{marker}|layer3|")
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = renamed.get(value.name, value.name)
    helper.set_model_props(model, {
        "privaudit.split": renamed[cut_old], "description": f"{marker} | a | b |",
        "author": f"{marker} [/] [bold]",
    })
    onnx.checker.check_model(model)
    onnx.save(model, target)
    return renamed[cut_old]


@pytest.fixture(scope="module")
def evil_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_cnn: nn.Module,
    onnx_export: Callable[..., Path],
) -> Path:
    """`assess` on a model whose names and metadata hold HTML and Markdown; its output folder."""
    folder = tmp_path_factory.mktemp("evil")
    plain = onnx_export(tiny_cnn, folder / "plain.onnx")
    model = folder / "<script>alert(1)|model|.onnx"  # no "/": it is a file name
    _evil_model(plain, model, EVIL)
    g = np.random.default_rng(0)
    data = folder / "d.npz"
    np.savez(data, x=(g.random((80, 28, 28)) * 255).astype(np.uint8), y=np.arange(80) % 10)
    out = folder / "out"
    result = runner.invoke(app, [
        "assess", str(model), "--data", str(data), "--noise", "0.1", "--attacks", "knn",
        "-q", "-o", str(out), "-f", "json,markdown,html,csv",
    ])
    assert result.exit_code == 0, result.stderr
    return out


def _outside_code_blocks(markdown: str) -> str:
    return re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown)


def test_html_report_shows_names_escaped(evil_run: Path) -> None:
    text = (evil_run / "report.html").read_text()
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|cut|`x`" in text  # shown, as text


def test_markdown_report_shows_names_escaped(evil_run: Path) -> None:
    text = (evil_run / "report.md").read_text()
    assert "<script" not in _outside_code_blocks(text).lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\|cut\\|\\`x\\`" in text
    rows = [line for line in text.splitlines() if "\\|cut\\|" in line]
    assert rows and all(line.count("|") - line.count("\\|") == 3 for line in rows)  # 2 cells


def test_json_and_csv_keep_the_names_verbatim(evil_run: Path) -> None:
    import json

    report = json.loads((evil_run / "report.json").read_text())
    assert report["model"]["cut_tensor"] == f"{EVIL}|cut|`x`"
    assert report["model"]["input_name"] == f"{EVIL}|input|"
    assert (evil_run / "report.csv").read_text().strip()


def test_markup_in_names_stays_text_in_errors(tmp_path: Path, tiny_cnn_legacy: Path) -> None:
    result = runner.invoke(app, ["layers", str(tmp_path / "[bold]missing[/].onnx")])
    assert result.exit_code == 2
    assert "[bold]missing[/].onnx" in result.stderr


@pytest.mark.parametrize("command", ["layers", "assess"])
def test_markup_in_model_names_is_printed_as_text(
    command: str, tmp_path: Path, tiny_cnn_legacy: Path
) -> None:
    model = tmp_path / "m.onnx"
    _evil_model(tiny_cnn_legacy, model, "[/][bold]")
    data = tmp_path / "d.npz"
    pixels = np.broadcast_to((np.arange(40) * 6).astype(np.uint8)[:, None, None], (40, 28, 28))
    np.savez(data, x=pixels, y=np.arange(40) % 4)
    args = {"layers": ["layers", str(model)],
            "assess": ["assess", str(model), "--data", str(data), "--noise", "0.1",
                       "--no-attacks", "-q", "-o", str(tmp_path / "out")]}[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "[/][bold]|cut|" in result.stdout + result.stderr
