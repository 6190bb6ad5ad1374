"""The README's config example and CI step are exercised exactly as written."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privaudit import demo
from privaudit.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(section: str, lang: str) -> str:
    text = README.read_text()
    start = text.index(section)
    match = re.search(rf"```{lang}\n(.*?)```", text[start:], re.S)
    assert match, f"no {lang} block under {section}"
    return match.group(1)


def test_first_lines_are_the_two_setup_commands() -> None:
    lines = _block("# privaudit", "bash").strip().splitlines()
    assert lines == [
        "pip install torch==2.13.0 && pip install -e . && privaudit demo",
        "pip install torch==2.13.0 && pip install -e '.[test]' && pytest",
    ]
    ci = (README.parent / ".ci" / "run").read_text()
    assert lines[1] in ci


def test_ci_step_commands_with_the_config_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(_block("## Configuration", "toml"))
    (tmp_path / "models").mkdir()
    (tmp_path / "data").mkdir()
    shutil.copy(demo.demo_model_path(), tmp_path / "models" / "net.onnx")
    shutil.copy(demo.demo_data_path(), tmp_path / "data" / "audit.npz")
    monkeypatch.chdir(tmp_path)
    commands = [
        line.strip()
        for line in _block("## The CI gate", "yaml").splitlines()
        if line.strip().startswith("privaudit ")
    ]
    assert len(commands) == 2
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.stderr)
    assert (tmp_path / "privaudit-out" / "report.md").read_text().startswith("#")
    strict = runner.invoke(app, ["check", "privaudit-out/report.json", "--fail-over-leakage", "0"])
    assert strict.exit_code == 1
