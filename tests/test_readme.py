"""Every command a reader can copy from the README runs, with small real files for theirs.

The commands are read from the README itself, so one added later runs here too (and fails
the test if it cannot run):

- every line of a ```bash block (backslash continuations joined, comments dropped);
- the `run:` lines of a ```yaml block (a CI step), in a folder whose pyproject.toml is the
  README's config example, as the README says ("with the config above");
- every inline code span that starts with a program (`privaudit`, `python`, `pytest`, `pip`)
  or names an executable of the checkout (`.ci/run`, `benchmarks/gpu_check.sh`). A span that
  is only `privaudit COMMAND` names the command: it is checked with `--help`.

A line is split at `&&`, `||` and `;` and runs with the shell's logic; each part must exit 0
(1, a failed gate, only where `||` follows). `privaudit` runs in-process in a scratch folder,
`python` and `pytest` in a fresh process in the checkout (they name its files), a script of
the checkout with bash in the checkout, anything else with bash in the scratch folder. What
the test substitutes, and why:

- placeholders (`MODEL`, `[MODEL]`, `--data …`): the values of METAVARS and OPTION_VALUES; an
  optional part without one (`[gate flags]`) and a bare `…` are dropped. A placeholder
  without a value fails the test.
- the reader's own files: small real ones in the scratch folder (FILES): the demo model as
  model.onnx, 400 labelled demo images as audit.npz / train.npz / held_out.npz, a model
  hardened by a 2-epoch `harden` (CEM refuses 1) as hardened.onnx, and its report as
  report.json (a.json, before/report.json, ...), and a one-point sweep of the demo model
  (layer3, sigma 0.1, knn at the smoke budget) as privaudit-out/sweep.json. A CI step's
  folder has the config example's models/net.onnx and data/audit.npz (the demo model and
  data).
- sizes (SIZES): `assess` and `harden` with attacks get `--budget smoke --limit 300`,
  `harden` also `--epochs 2` (the last value of a flag wins); a benchmark gets `--quick`,
  and the size flags it was given their quick values; `scripts/make_demo.py` gets
  `make_demo_args` (1 epoch, no accuracy floor, a scratch folder: it would overwrite the
  shipped demo model), and `scripts/make_tabular_demo.py` a scratch folder, 5 epochs and no
  accuracy floor. Runs of the same command are shared (`run_once`), with
  tests/test_benchmarks.py and tests/audit/test_demo.py too.

Not run (NOT_RUN, each with its reason): `pip` (installing), `pytest` with no arguments (this
suite) and `.ci/run` (a fresh venv from the network), which .ci/run does; and
`benchmarks/gpu_check.sh` where there is no CUDA.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from privaudit import demo
from privaudit.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROGRAMS = ("privaudit", "python", "python3", "pytest", "pip")
COVERED = {"python": "tests/test_api.py::test_readme_example_runs",
           "toml": "test_ci_step_commands_with_the_config_example (below)"}
METAVARS = {"MODEL": "model.onnx", "NAME": "layer3", "DATA": "audit.npz", "SIGMA": "0.1",
            "HELD_OUT": "held_out.npz", "OUT_DIR": "{scratch}/gpu-check", "KIT": "{scratch}/kit"}
OPTION_VALUES = {"--data": "held_out.npz"}  # `--data …`: the option's value, elided
SIZES = {"assess": ["--budget", "smoke", "--limit", "300"],
         "harden": ["--budget", "smoke", "--limit", "300", "--epochs", "2"]}  # with attacks
NOT_RUN = {
    "pip": "installs packages: the environment this test runs in is what it installs "
           "(.ci/run runs the README's setup line in a fresh venv)",
    "pytest": "the test suite itself, which is running (.ci/run runs it)",
    ".ci/run": "makes a fresh venv and installs from the network: it is the CI",
}
NEEDS_CUDA = {"benchmarks/gpu_check.sh": "the device check: needs CUDA (nvidia-smi, a GPU)"}
FILES = ("model.onnx", "audit.npz", "train.npz", "held_out.npz", "hardened.onnx",
         "report.json", "a.json", "b.json", "before/report.json", "after/report.json",
         "privaudit-out/report.json", "privaudit-out/report.md")


@dataclass(frozen=True)
class Command:
    """A command line of the README, where it stands and how it is shown."""

    line: str
    section: str
    kind: str  # "bash" | "yaml" (a CI step, with the config example) | "inline"

    def __str__(self) -> str:
        return f"{self.kind}: {self.line}"


def _block(section: str, lang: str) -> str:
    text = README.read_text()
    start = text.index(section)
    match = re.search(rf"```{lang}\n(.*?)```", text[start:], re.S)
    assert match, f"no {lang} block under {section}"
    return match.group(1)


def readme_commands(text: str) -> list[Command]:
    """Every command of the README, in order (see the module's docstring)."""
    found: list[Command] = []
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
    for pos, chunk, block in _chunks(text, fence):
        section = _section_of(text, pos)
        if block is None:
            spans = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", chunk)
            found += [Command(s.strip(), section, "inline") for s in spans if _is_command(s)]
            continue
        lang, body = block
        if lang in ("bash", "sh", "shell"):
            found += [Command(line, section, "bash") for line in _lines(body)]
        elif lang == "yaml":
            found += [Command(line, section, "yaml") for line in _run_lines(body)]
        else:
            assert lang in COVERED, f"a ```{lang or '(no language)'} block in {section}: " \
                                    "say how it is tested"
    first = {(c.line, c.kind): c for c in reversed(found)}  # each once, where it first appears
    return [c for c in found if first[(c.line, c.kind)] is c]


def _chunks(text: str, fence: re.Pattern[str]) -> Iterator[tuple[int, str, tuple[str, str] | None]]:
    """Prose (None) and fenced blocks ((language, body)), with their offsets."""
    last = 0
    for m in fence.finditer(text):
        yield last, text[last:m.start()], None
        yield m.start(), "", (m.group(1), m.group(2))
        last = m.end()
    yield last, text[last:], None


def _section_of(text: str, pos: int) -> str:
    headings = re.findall(r"^#+ .*$", text[:pos], re.M)
    return headings[-1] if headings else "(top)"


def _is_command(span: str) -> bool:
    words = span.split()
    if not words:
        return False
    if words[0] == "privaudit":
        return len(words) > 1
    if words[0] in PROGRAMS:
        return True
    path = ROOT / words[0]
    return "/" in words[0] and path.is_file() and os.access(path, os.X_OK)


def _lines(body: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", "", body)
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _run_lines(body: str) -> list[str]:
    """The shell lines of a YAML step's `run:` (a literal block or a single line)."""
    lines, out = body.splitlines(), []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:- )?run:\s*(.*)$", line)
        if not m:
            continue
        if m.group(2) not in ("|", ">", ""):
            out.append(m.group(2))
            continue
        indent = len(m.group(1))
        for follow in lines[i + 1:]:
            if follow.strip() and len(follow) - len(follow.lstrip()) <= indent:
                break
            out.append(follow)
    return _lines("\n".join(out))


def split_line(line: str) -> list[tuple[str, str]]:
    """(operator before, part) for each part of a shell line, comments dropped."""
    parts, current, op, quote, i = [], "", "", "", 0
    while i < len(line):
        c = line[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (not current or current[-1].isspace()):
            break
        elif line.startswith(("&&", "||"), i) or c == ";":
            parts.append((op, current.strip()))
            op = line[i:i + 2] if c != ";" else ";"
            i += len(op)
            current = ""
            continue
        current += c
        i += 1
    parts.append((op, current.strip()))
    return [(o, p) for o, p in parts if p]


def substitute(part: str, scratch: Path) -> str:
    """The part with its placeholders replaced (see METAVARS, OPTION_VALUES)."""
    def optional(m: re.Match[str]) -> str:
        return m.group(1) if re.fullmatch(r"[A-Z][A-Z_]+", m.group(1)) else ""

    part = re.sub(r"(?<!\S)\[([^\]]+)\]", optional, part)
    part = re.sub(r"(--[\w-]+)\s+(?:…|\.\.\.)",
                  lambda m: f"{m.group(1)} {OPTION_VALUES[m.group(1)]}", part)
    part = part.replace("…", "").replace("...", "")

    def metavar(m: re.Match[str]) -> str:
        assert m.group(1) in METAVARS, f"no value for the placeholder {m.group(1)} in {part!r}"
        return METAVARS[m.group(1)].format(scratch=scratch)

    return re.sub(r"(?<![\w$/.-])([A-Z][A-Z_]+)(?![\w/.-])", metavar, part).strip()


# Commands --------------------------------------------------------------------------------

COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the reader's files, small and real (FILES)."""
    folder = tmp_path_factory.mktemp("reader")
    shutil.copy(demo.demo_model_path(), folder / "model.onnx")
    with np.load(demo.demo_data_path()) as d:
        x, y = d["x"], d["y"]
    for i, name in enumerate(("audit.npz", "train.npz", "held_out.npz")):
        keep = np.concatenate([np.flatnonzero(y == c)[40 * i:40 * i + 40] for c in range(10)])
        np.savez_compressed(folder / name, x=x[keep], y=y[keep])
    hardened = CliRunner().invoke(app, [
        "harden", str(folder / "model.onnx"), "--split", "layer3", "--data",
        str(folder / "train.npz"), "--noise", "0.1", "--epochs", "2", "--budget", "smoke",
        "--attacks", "knn", "-q", "-o", str(folder / "hardened.onnx"),
        "--output-dir", str(folder / "seed"), "-f", "json,markdown",
    ])
    assert hardened.exit_code == 0, hardened.output + hardened.stderr
    for name in FILES:
        if not (folder / name).exists():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "seed" / f"report{Path(name).suffix}", folder / name)
    swept = CliRunner().invoke(app, [
        "sweep", str(folder / "model.onnx"), "--data", str(folder / "audit.npz"),
        "--splits", "layer3", "--noise", "0.1", "--attacks", "knn", "--budget", "smoke",
        "-q", "--output-dir", str(folder / "privaudit-out"),
    ])
    assert swept.exit_code == 0, swept.output + swept.stderr
    assert all((folder / name).exists() for name in (*FILES, "privaudit-out/sweep.json"))
    return folder


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory, scratch: Path) -> Path:
    """A folder whose pyproject.toml is the README's config example, with its files."""
    folder = tmp_path_factory.mktemp("ci")
    (folder / "pyproject.toml").write_text(_block("## Configuration", "toml"))
    (folder / "models").mkdir()
    (folder / "data").mkdir()
    shutil.copy(scratch / "model.onnx", folder / "models" / "net.onnx")
    shutil.copy(demo.demo_data_path(), folder / "data" / "audit.npz")
    return folder


@dataclass
class Outcome:
    """How a part ended, and what it printed."""

    code: int
    output: str


_RAN: dict[tuple[tuple[str, ...], str], Outcome] = {}


def _sizes(argv: list[str], command: Command) -> list[str]:
    if command.kind == "inline" and re.fullmatch(r"privaudit [\w-]+", command.line):
        return [*argv, "--help"]  # NOTE: `privaudit COMMAND` in prose names the command
    if len(argv) < 2 or "--no-attacks" in argv:
        return argv
    return argv + SIZES.get(argv[1], [])


def _benchmark_sizes(args: list[str]) -> list[str]:
    """`-m benchmarks[.NAME] ...` in quick mode; the size flags given get their quick values."""
    module = args[1]
    quick = {}
    if module != "benchmarks":
        sys.path.insert(0, str(ROOT))
        try:
            quick = importlib.import_module(module).QUICK
        finally:
            sys.path.remove(str(ROOT))
    extra = [tok for key, value in quick.items() if f"--{key}" in args
             for tok in (f"--{key}", str(value))]
    return [*args, *(["--quick"] if "--quick" not in args else []), *extra]


def run_part(part: str, command: Command, folder: Path, make_demo: list[str],
             run_once: Callable[..., subprocess.CompletedProcess[str]]) -> Outcome:
    """Run one part of a command line (see the module's docstring for where and how)."""
    argv = shlex.split(part)
    if argv[0] == "privaudit":
        key = (tuple(_sizes(argv, command)), str(folder))
        if key not in _RAN:  # NOTE: a command shown twice (e.g. `[MODEL]` and `model.onnx`)
            result = CliRunner().invoke(app, list(key[0][1:]))
            _RAN[key] = Outcome(result.exit_code, result.output + result.stderr)
        return _RAN[key]
    if argv[0] in ("python", "python3", "pytest"):
        args = ["-m", "pytest", "-p", "no:cacheprovider"] if argv[0] == "pytest" else []
        args += argv[1:]
        if args[:1] == ["-m"] and args[1].split(".")[0] == "benchmarks":
            args = _benchmark_sizes(args)
        if args[:1] == ["scripts/make_demo.py"]:
            args += make_demo
        if args[:1] == ["scripts/make_tabular_demo.py"]:  # NOTE: never over the shipped demo
            args += ["--out", str(folder / "tabular-demo"), "--epochs", "5",
                     "--min-accuracy", "0"]
        done = run_once([sys.executable, *args], ROOT)
        return Outcome(done.returncode, done.stdout + done.stderr)
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(folder / "step-summary.md")}
    cwd = ROOT if (ROOT / argv[0]).is_file() else folder  # a script of the checkout
    done = subprocess.run(["bash", "-c", part], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=900)
    return Outcome(done.returncode, done.stdout + done.stderr)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_readme_command_runs(command: Command, scratch: Path, configured: Path,
                             make_demo_args: list[str],
                             run_once: Callable[..., subprocess.CompletedProcess[str]],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = configured if command.kind == "yaml" else scratch
    monkeypatch.chdir(folder)
    parts = split_line(command.line)
    ran, failed = 0, False
    for i, (op, raw) in enumerate(parts):
        if (op == "&&" and failed) or (op == "||" and not failed):
            continue
        program = raw.split()[0]
        if program in NOT_RUN and (program != "pytest" or raw == "pytest"):
            continue
        if program in NEEDS_CUDA and not torch.cuda.is_available():
            continue
        part = substitute(raw, scratch)
        outcome = run_part(part, command, folder, make_demo_args, run_once)
        ran += 1
        allowed = (0, 1) if i + 1 < len(parts) and parts[i + 1][0] == "||" else (0,)
        assert outcome.code in allowed, f"{part!r} exited {outcome.code}:\n{outcome.output[-3000:]}"
        failed = outcome.code != 0
    if ran == 0:
        skipped = {p.split()[0] for _, p in parts}
        reasons = {**NOT_RUN, **NEEDS_CUDA}
        pytest.skip("; ".join(f"{p}: {reasons[p]}" for p in sorted(skipped) if p in reasons))


def test_the_readme_has_commands_of_every_kind() -> None:
    kinds = {c.kind for c in COMMANDS}
    assert kinds == {"bash", "yaml", "inline"}, kinds
    lines = {c.line for c in COMMANDS}
    assert "python -m benchmarks" in lines
    assert any(line.startswith("privaudit harden model.onnx") for line in lines)


def test_substitutions() -> None:
    scratch = Path("/s")
    assert substitute("privaudit assess [MODEL] --split NAME --data DATA --noise SIGMA",
                      scratch) == "privaudit assess model.onnx --split layer3 --data audit.npz " \
                                  "--noise 0.1"
    assert substitute("privaudit check report.json [gate flags]", scratch) == \
        "privaudit check report.json"
    assert substitute("privaudit assess hardened.onnx --data …", scratch) == \
        "privaudit assess hardened.onnx --data held_out.npz"
    assert substitute("privaudit assess …", scratch) == "privaudit assess"
    assert substitute('cat out.md >> "$GITHUB_STEP_SUMMARY"', scratch) == \
        'cat out.md >> "$GITHUB_STEP_SUMMARY"'
    with pytest.raises(AssertionError, match="no value for the placeholder WEIGHTS"):
        substitute("privaudit assess WEIGHTS", scratch)
    assert split_line("a && b || true  # note") == [("", "a"), ("&&", "b"), ("||", "true")]
    assert split_line("echo '#x && y'") == [("", "echo '#x && y'")]


# The setup lines and the CI step, exactly ---------------------------------------------------


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
