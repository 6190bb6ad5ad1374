"""Issue 16, item 7: one clear line, whatever the names hold; reports with odd text render.

A file, split or tensor name can hold a newline, an escape sequence or undecodable bytes;
0.1.0 printed them raw (an image named ``bad\\nerror: fake line.png`` forged a second
`error:` line) and crashed (exit 3) rendering a report with a lone surrogate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.cli.console import printable
from privaudit.cli.errors import reported_errors
from privaudit.errors import ModelError

runner = CliRunner()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("bad\nerror: fake line.png", "bad\\nerror: fake line.png"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),
        ("next\x85line", "next\\x85line"),
        ("line\u2028separator", "line\\u2028separator"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
        ("\udcffbytes.onnx", "\\udcffbytes.onnx"),
        ("plain café 漢字 [bold] ok", "plain café 漢字 [bold] ok"),
    ],
)
def test_printable_escapes_what_could_forge_or_break_a_line(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_a_multi_line_error_prints_as_one_error_and_one_hint_line() -> None:
    cli = typer.Typer()

    @cli.command()
    def fail() -> None:
        with reported_errors():
            raise ModelError("cannot split at 'If'\nerror: a second line\n  three\n  four",
                             hint="one\nhint")

    result = runner.invoke(cli, [])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: cannot split at 'If'\\nerror: a second line\\n  three\\n  four",
        "hint: one\\nhint",
    ]


def test_a_report_with_a_lone_surrogate_renders(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, ["assess", "--no-attacks", "--limit", "60", "-q",
                               "-o", str(out)]).exit_code == 0
    text = (out / "report.json").read_text().replace("demo_cnn.onnx", "\\ud800demo_cnn.onnx")
    (tmp_path / "odd.json").write_text(text)
    assert "\\ud800" in json.dumps(json.loads(text))
    result = runner.invoke(app, ["report", str(tmp_path / "odd.json"), "-f", "html,markdown,csv",
                                 "--output-dir", str(tmp_path / "again")])
    assert result.exit_code == 0, result.stderr
    assert "\ufffddemo_cnn.onnx" in (tmp_path / "again" / "odd.html").read_text()
    result = runner.invoke(app, ["compare", str(tmp_path / "odd.json"), str(out / "report.json")])
    assert result.exit_code == 0, result.stderr


def test_check_of_a_saved_sweep_says_no_jobs_ran() -> None:
    """`check sweep.json` runs nothing: no executor line ('local: N jobs ran'), only the answer."""
    sweep = Path(__file__).resolve().parents[1] / "reports" / "golden" / "sweep.json"
    result = runner.invoke(app, ["check", str(sweep)])
    assert result.exit_code in (0, 1), result.stderr
    assert "answer:" in result.stderr
    assert "jobs ran" not in result.stderr and "reused from shards" not in result.stderr


def test_the_console_names_the_most_leaking_columns_in_the_reports_order() -> None:
    """The console ranked by the strongest attack's R² (income first), the report by the best
    any attack reaches (grade, 0.8 by knn): the two disagreed on which column leaks most."""
    from privaudit.cli.console import feature_line
    from privaudit.reports.features import leakage_table
    from privaudit.results import read_report

    golden = Path(__file__).resolve().parents[1] / "reports" / "golden" / "tabular.json"
    report = read_report(golden)
    order = [str(f) for f in leakage_table(report)["feature"]]
    line = feature_line(report)
    assert line.startswith("most leaking columns (R², best attack): grade 0.80 (knn), income 0.71")
    assert [line.index(name) for name in order] == sorted(line.index(name) for name in order)


def test_check_refuses_to_overwrite_its_input_before_printing_an_answer(tmp_path: Path) -> None:
    """`check sweep.json -f json` in the sweep's own folder printed the whole answer, then
    refused to overwrite the input (exit 2): an answer on the console beside an error."""
    import shutil

    sweep = tmp_path / "sweep.json"
    shutil.copy(Path(__file__).resolve().parents[1] / "reports" / "golden" / "sweep.json", sweep)
    result = runner.invoke(app, ["check", str(sweep), "-f", "json"])
    assert result.exit_code == 2
    assert "would overwrite the input report" in result.stderr
    assert "answer:" not in result.stderr and "Sweep" not in result.stderr
