"""Every command's --help: each option with a default shows it, and no text is lost to markup."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.config import Config

RUNNER = CliRunner()
# NOTE: typer builds on its own copy of click, so the objects are used by their attributes
GROUP: Any = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
# Options that have no default at all: a model part, data, a threshold or constraint that is off
# unless given, a value with nothing to fall back on. Anything else must show its default.
NO_DEFAULT = {
    "--split", "--encoder", "--head", "--data", "--data-range", "--noise-sweep",
    "--fail-under-bound", "--fail-under-floor", "--fail-over-leakage", "--fail-under-attack-mse",
    "--fail-over-recovered", "--fail-under-dfil-mse", "--min-accuracy", "--min-attack-mse",
    "--max-recovered",
}  # fmt: skip


def _help(command: str) -> str:
    wide = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}
    result = RUNNER.invoke(app, [command, "--help"], env=wide)
    assert result.exit_code == 0, result.output
    return result.output


def _option_help(text: str, option: str) -> str:
    """The help cell of `option`: its row and the rows that continue it (wrapped text)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"│ {re.escape(option)}\b", line))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if re.match(r"│ +-", line) or not line.startswith("│"):
            break
        block.append(line)
    return " ".join(block)


def _options(command: str) -> list[Any]:
    params = GROUP.commands[command].params
    return [p for p in params
            if p.param_type_name == "option" and not p.hidden and p.name != "help"]  # fmt: skip


def _off_flag(p: Any) -> bool:
    """A flag without a --no- form, off by default (--quiet): its default is its absence."""
    return p.is_flag and not p.secondary_opts and not p.default


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_with_a_default_shows_it(command: str) -> None:
    text = _help(command)
    missing = []
    for p in _options(command):
        if _off_flag(p) or p.opts[0] in NO_DEFAULT:
            continue
        if "[default:" not in _option_help(text, p.opts[0]):
            missing.append(p.opts[0])
    assert not missing, f"privaudit {command} --help shows no default for {missing}"


@pytest.mark.parametrize("command", COMMANDS)
def test_options_without_a_default_are_the_known_ones(command: str) -> None:
    """A new option must either default to something or be listed in NO_DEFAULT, knowingly."""
    unshown = [p.opts[0] for p in _options(command)
               if p.default is None and not isinstance(p.show_default, str)]  # fmt: skip
    assert set(unshown) <= NO_DEFAULT, set(unshown) - NO_DEFAULT


def test_shown_defaults_are_the_configs() -> None:
    """The defaults --help names for config-backed flags are the built-in config values."""
    cfg = Config()
    text = _help("harden")
    assert f"[default: ({cfg.harden.lam})]" in _option_help(text, "--lambda")
    assert f"[default: ({cfg.harden.epochs})]" in _option_help(text, "--epochs")
    assert f"[default: ({cfg.attacks.budget})]" in _option_help(text, "--budget")
    assert "[default: (privaudit-out)]" in _option_help(text, "--output-dir")
    assert "[default: smoke]" in _option_help(_help("demo"), "--budget")  # demo's own default
    sweep = _option_help(_help("sweep"), "--noise")
    assert "[default: (" + ",".join(str(s) for s in cfg.sweep.noise) + ")]" in sweep


@pytest.mark.parametrize("command", [c for c in COMMANDS if any(
    p.opts[0] == "--config" for p in _options(c))])  # fmt: skip
def test_config_help_keeps_the_table_name(command: str) -> None:
    """Rich markup would swallow an unescaped [tool.privaudit] as a style tag."""
    cell = _option_help(_help(command), "--config")
    assert "[tool.privaudit]" in cell and "\\[" not in cell


def test_commands_with_config_are_the_expected_ones() -> None:
    with_config = {c for c in COMMANDS if any(p.opts[0] == "--config" for p in _options(c))}
    assert with_config == {"assess", "harden", "sweep", "check"}
