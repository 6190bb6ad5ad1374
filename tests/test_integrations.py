"""The GitHub Action (action.yml) and the pre-commit hooks (.pre-commit-hooks.yaml), run for real.

The action's shell steps run the way a GitHub runner runs them (`bash --noprofile --norc -eo
pipefail`, its `${{ }}` expressions filled in, `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT` set,
a failed step stopping the rest except `if: always()`), in a fresh virtual environment into
which its install step pip-installs this checkout. Its dependencies come from the test's own
environment (a .pth file, and PIP_NO_DEPS for that install), so nothing is downloaded. The
upload step (a JavaScript action) cannot run here: the files its `path` names must exist.
The hooks' entries run as pre-commit runs them: entry, args, then the matching files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from privaudit import demo

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
HOOKS = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
FAST_ARGS = "--no-attacks --limit 300 -q"
BIN = Path(sys.executable).parent  # this environment's console scripts (privaudit)


@pytest.fixture(scope="module")
def action_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh venv that sees this environment's packages, but not its privaudit."""
    folder = tmp_path_factory.mktemp("runner") / "venv"
    venv.create(folder, with_pip=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(folder), "platbase": str(folder)})
                   ["purelib"])  # fmt: skip
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "PIP_NO_DEPS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip


@dataclass
class ActionRun:
    """What a run of the action left: exit codes per step, outputs, the job summary."""

    codes: dict[str, int]
    outputs: dict[str, str]
    summary: str
    workspace: Path
    uploaded: list[Path]
    log: str


def _expand(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr == "github.action_path":
            return str(ROOT)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        step, _, name = expr.removeprefix("steps.").partition(".outputs.")
        assert expr.startswith("steps.") and name, f"unknown expression {expr}"
        return outputs.get(step, {}).get(name, "")

    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def run_action(given: dict[str, str], env: dict[str, str], workspace: Path) -> ActionRun:
    """Run the action's steps as a runner would, with the inputs `given`."""
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()} | given
    outputs: dict[str, dict[str, str]] = {}
    summary = workspace / "summary.md"
    codes, uploaded, log, failed = {}, [], "", False
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if failed and step.get("if") != "always()":
            continue
        name = step.get("id", f"step{i}")
        if "uses" in step:
            paths = _expand(step["with"]["path"], inputs, outputs).splitlines()
            uploaded = [workspace / p for p in paths if (workspace / p).exists()]
            codes[name] = 0
            continue
        out = workspace / f"output-{i}"
        out.touch()
        given_env = {k: _expand(v, inputs, outputs) for k, v in step.get("env", {}).items()}
        step_env = {**env, **given_env, "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_OUTPUT": str(out)}  # fmt: skip
        assert step["shell"] == "bash"
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               _expand(step["run"], inputs, outputs)], cwd=workspace,
                              env=step_env, capture_output=True, text=True, timeout=900)
        codes[name] = done.returncode
        log += done.stdout + done.stderr
        outputs[name] = dict(line.split("=", 1) for line in out.read_text().splitlines())
        failed = failed or done.returncode != 0
    text = summary.read_text() if summary.exists() else ""
    return ActionRun(codes, outputs.get("audit", {}), text, workspace, uploaded, log)


def test_action_metadata() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"model", "split", "data", "noise", "args", "fail-over-leakage"} <= set(ACTION["inputs"])
    assert all(not v.get("required", False) for v in ACTION["inputs"].values())
    steps = ACTION["runs"]["steps"]
    install = steps[0]
    assert "pip install" in install["run"] and "github.action_path" in str(install["env"])
    (upload,) = [s for s in steps if "uses" in s]
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert "report.html" in upload["with"]["path"]
    assert steps[-1]["run"].startswith("exit ") and "steps.audit.outputs.exit-code" in str(
        steps[-1]["env"])
    for step in steps:  # NOTE: inputs only through env, never pasted into a script
        assert "${{" not in step.get("run", "")


@pytest.mark.slow
def test_action_passes_and_writes_the_summary(action_env: dict[str, str], tmp_path: Path) -> None:
    run = run_action({"args": FAST_ARGS, "fail-over-leakage": "1"}, action_env, tmp_path)
    assert run.codes == {"step0": 0, "audit": 0, "step2": 0, "step3": 0}, run.log[-3000:]
    assert run.outputs["exit-code"] == "0"
    assert run.summary.startswith("# privaudit assess")
    assert [p.name for p in run.uploaded] == ["report.html", "report.junit.xml"]
    assert (tmp_path / "privaudit-out" / "report.json").is_file()


@pytest.mark.slow
def test_action_fails_with_privaudits_exit_code_after_uploading(
    action_env: dict[str, str], tmp_path: Path
) -> None:
    run = run_action({"args": FAST_ARGS + " --noise 0.1", "fail-over-leakage": "0.001",
                      "output-dir": "out dir"}, action_env, tmp_path)  # fmt: skip
    assert run.codes["audit"] == 0 and run.outputs["exit-code"] == "1"
    assert list(run.codes)[-1] == "step3" and run.codes["step3"] == 1
    assert "max_leakage" in run.summary and [p.name for p in run.uploaded] == [
        "report.html", "report.junit.xml"]
    (tmp_path / "bad").mkdir()
    bad = run_action({"args": "--no-attacks --split 'no such layer'"}, action_env,
                     tmp_path / "bad")
    assert bad.outputs["exit-code"] == "2" and bad.codes["step3"] == 2
    assert "'no such layer'" in bad.log and bad.summary == "" and bad.uploaded == []


@pytest.mark.slow
def test_action_runs_with_args_left_at_their_default(
    action_env: dict[str, str], tmp_path: Path
) -> None:
    """`args: ""` (the default) passed one empty argument: every such run exited 2."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.privaudit]\nlimit = 60\n[tool.privaudit.attacks]\nenabled = []\n")
    run = run_action({"model": str(demo.demo_model_path()), "split": "layer3", "noise": "0.1",
                      "data": str(demo.demo_data_path())}, action_env, tmp_path)  # fmt: skip
    assert run.outputs["exit-code"] == "0", run.log[-3000:]
    report = json.loads((tmp_path / "privaudit-out" / "report.json").read_text())
    assert report["data"]["n_total"] == 60 and report["attacks"] == []


@pytest.mark.slow
@pytest.mark.parametrize(("args", "said"), [
    ("--budget smoke --fail-under-attack-mse 0.04 --columns \"a,b", "not valid shell words"),
    ("--no-attacks -f csv", "-f in the action's args"),
    ("--output-dir=elsewhere", "--output-dir in the action's args"),
])
def test_action_refuses_args_it_cannot_pass_whole(
    action_env: dict[str, str], tmp_path: Path, args: str, said: str
) -> None:
    """An unbalanced quote made the split fail unseen inside `mapfile < <(...)`: privaudit
    ran without any of the args, its gate thresholds among them, and passed (a reviewer,
    2026-12-08). A format or output folder in args was silently overridden."""
    run = run_action({"args": args}, action_env, tmp_path)
    assert run.codes["audit"] == 2 and run.outputs["exit-code"] == "2", run.log[-3000:]
    assert said in run.log and "Traceback" not in run.log
    assert "step3" not in run.codes and not (tmp_path / "privaudit-out").exists()


# pre-commit --------------------------------------------------------------------------------


def _hook(hook_id: str, files: list[str], cwd: Path, args: list[str] | None = None) -> Any:
    hook = HOOKS[hook_id]
    argv = shlex.split(hook["entry"]) + list(hook.get("args", [])) + (args or []) + files
    argv[0] = str(BIN / argv[0])
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_hook_metadata() -> None:
    assert set(HOOKS) == {"privaudit-check", "privaudit-audit"}
    for hook in HOOKS.values():
        assert hook["language"] in ("python", "system") and hook["entry"].startswith("privaudit ")
        assert hook["name"] and hook["files"]
    check, audit = re.compile(HOOKS["privaudit-check"]["files"]), re.compile(
        HOOKS["privaudit-audit"]["files"])
    assert check.search("report.json") and check.search("ci/privaudit-out/sweep.json")
    assert not check.search("data.json") and not check.search("myreport.json")
    assert audit.search("models/net.onnx") and not audit.search("net.onnx.json")


@pytest.fixture(scope="module")
def saved_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hooked")
    done = subprocess.run([str(BIN / "privaudit"), "assess", *FAST_ARGS.split(), "-o",
                           str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder / "report.json"


def test_check_hook_passes_fails_and_names_a_broken_file(saved_report: Path,
                                                         tmp_path: Path) -> None:
    shutil.copy(saved_report, tmp_path / "report.json")
    ok = _hook("privaudit-check", ["report.json"], tmp_path)
    assert ok.returncode == 0 and "report.json: no gate configured" in ok.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.privaudit.gate]\nmax_leakage = 0.001\n")
    failed = _hook("privaudit-check", ["report.json"], tmp_path)
    assert failed.returncode == 1 and "report.json: gate failed (1 violation)" in failed.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text('{"schema_version": 3, "model": []}')
    both = _hook("privaudit-check", ["broken/report.json", "report.json"], tmp_path)
    assert both.returncode == 2, both.stderr
    assert "error: broken/report.json: " in both.stderr and "hint:" in both.stderr
    assert "report.json: gate failed" in both.stderr  # the other file is still checked
    assert "Traceback" not in both.stderr


def test_audit_hook_audits_changed_models_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copy(demo.demo_model_path(), tmp_path / "net.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    args = ["--split", "layer3", "--data", str(demo.demo_data_path()), "--noise", "0.1",
            "--limit", "300"]
    before = sorted(tmp_path.rglob("*"))
    ok = _hook("privaudit-audit", ["net.onnx"], tmp_path, args)
    assert ok.returncode == 0 and "net.onnx: no gate configured" in ok.stderr, ok.stderr
    gated = _hook("privaudit-audit", ["net.onnx", "bad.onnx"], tmp_path,
                  [*args, "--config", str(_gate_file(tmp_path.parent))])
    assert gated.returncode == 2
    assert "net.onnx: gate failed" in gated.stderr and "error: bad.onnx: " in gated.stderr
    assert sorted(tmp_path.rglob("*")) == before  # no report left in the work tree
    # no attack runs in this hook: an attack threshold is left to `hook check`, and said so
    both = tmp_path.parent / "both.toml"
    both.write_text("[tool.privaudit.gate]\nmax_leakage = 100\nmin_attack_mse = 0.5\n")
    bound_only = _hook("privaudit-audit", ["net.onnx"], tmp_path, [*args, "--config", str(both)])
    assert bound_only.returncode == 0, bound_only.stderr
    assert ("net.onnx: gate passed (bound only: min_attack_mse not checked"
            in bound_only.stderr), bound_only.stderr
    # a gate of attack thresholds alone is configured: not 'no gate configured'
    attack_only = tmp_path.parent / "attack_only.toml"
    attack_only.write_text("[tool.privaudit.gate]\nmin_attack_mse = 0.5\n")
    skipped = _hook("privaudit-audit", ["net.onnx"], tmp_path,
                    [*args, "--config", str(attack_only)])  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr
    assert ("net.onnx: no bound threshold configured (bound only: min_attack_mse not checked"
            in skipped.stderr), skipped.stderr


def _gate_file(folder: Path) -> Path:
    path = folder / "gate.toml"
    path.write_text("[tool.privaudit.gate]\nmax_leakage = 0.001\n")
    return path


def test_check_hook_says_whether_a_sweep_passed(tmp_path: Path) -> None:
    """A sweep that failed its constraints printed only its recommendation's headline."""
    sweep = Path(__file__).parent / "reports" / "golden" / "sweep.json"
    shutil.copy(sweep, tmp_path / "sweep.json")
    (tmp_path / "pyproject.toml").write_text("[tool.privaudit.sweep]\nmin_accuracy = 0.999\n"
                                             "min_attack_mse = 10.0\n")  # fmt: skip
    failed = _hook("privaudit-check", ["sweep.json"], tmp_path)
    assert failed.returncode == 1 and "sweep.json: gate failed: " in failed.stderr, failed.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.privaudit]\n")
    ok = _hook("privaudit-check", ["sweep.json"], tmp_path)
    assert ok.returncode == 0 and "sweep.json: passed: Cut at layer2" in ok.stderr, ok.stderr
