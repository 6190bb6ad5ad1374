"""The installed shape: one top-level name, commands immune to a user's own `attacks`/`reports`."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import privaudit
from privaudit import demo

ROOT = Path(__file__).resolve().parents[1]
SHADOW = 'raise ImportError("this is the user\'s own {name} package, not privaudit\'s")\n'


def test_families_install_inside_the_privaudit_namespace() -> None:
    import privaudit.attacks
    import privaudit.reports

    assert privaudit.attacks.ATTACKS and privaudit.reports.REPORTERS
    # NOTE: editable and regular installs alike map them from the repository's top level.
    assert Path(privaudit.attacks.__file__).parent.name == "attacks"
    assert Path(privaudit.reports.__file__).parent.name == "reports"


@pytest.mark.slow
def test_wheel_top_level_holds_privaudit_alone(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("privaudit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"privaudit"}, top
    for needed in ("privaudit/attacks/__init__.py", "privaudit/reports/__init__.py",
                   "privaudit/reports/templates/report.html", "privaudit/demo/demo_cnn.onnx",
                   "privaudit/demo/mnist_2k.npz", "privaudit/demo/README.md",
                   "privaudit/interpreter/ops/__init__.py",
                   "privaudit/results/schemas/report.schema.json",
                   "privaudit/results/schemas/sweep.schema.json"):  # fmt: skip
        assert needed in names, needed
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "privaudit").rglob("__init__.py")}
    shipped = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert packages <= shipped, packages - shipped
    _check_licence_and_types(zipfile.ZipFile(wheel))


def _check_licence_and_types(wheel: zipfile.ZipFile) -> None:
    """The licence as an SPDX expression with its text, and the PEP 561 marker, are shipped."""
    names = wheel.namelist()
    assert "privaudit/py.typed" in names
    (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    licence = f"{dist_info}/licenses/LICENSE"
    assert licence in names, [n for n in names if n.startswith(dist_info)]
    assert wheel.read(licence) == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in wheel.read(licence) and b"Version 2.0" in wheel.read(licence)
    metadata = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["License"] is None  # the old free-text field is gone
    runtime = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    deps = {r.name.lower(): r.specifier for r in runtime if r.marker is None}
    assert "jinja2" not in deps and "pillow" in deps  # reports/png.py encodes through Pillow
    assert "2.13.0" in deps["torch"] and "3.0" not in deps["torch"]  # below the next major


def _shadowed(tmp_path: Path) -> Path:
    """A project folder with its own `attacks` and `reports` packages that refuse to import."""
    for name in ("attacks", "reports"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(SHADOW.format(name=name))
    return tmp_path


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privaudit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_every_command_works_beside_a_users_attacks_and_reports(tmp_path: Path) -> None:
    cwd = _shadowed(tmp_path)
    data = str(demo.demo_data_path())
    fast = ["-q", "--budget", "smoke", "--limit", "300"]
    commands = [
        ["layers"],
        ["attacks"],
        ["schema", "--kind", "sweep"],
        ["demo", "-q", "-o", "d", "-f", "json,markdown,csv,html"],
        ["assess", *fast, "--attacks", "knn", "-o", "a", "-f", "json,html"],
        ["harden", *fast, "--no-attacks", "--epochs", "2", "--data", data, "-o", "h.onnx",
         "--output-dir", "h"],
        ["check", "a/report.json", "--fail-over-leakage", "10"],
        ["report", "a/report.json", "-f", "markdown,csv", "--output-dir", "r"],
        ["compare", "d/report.json", "a/report.json", "-f", "html", "-o", "c.html"],
        ["sweep", *fast, "--splits", "layer3", "--noise", "0.1", "--attacks", "knn", "--jobs",
         "2", "-o", "s"],
    ]  # fmt: skip
    for args in commands:
        result = _run(cwd, *args)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    assert (cwd / "r" / "report.md").read_text().startswith("#")
    # the demo's report (12 images, 4 attacks' reconstructions) stays small: PNG, not floats
    assert (cwd / "d" / "report.json").stat().st_size <= 100_000


def test_notebook_import_beside_a_users_reports(tmp_path: Path) -> None:
    cwd = _shadowed(tmp_path)
    golden = ROOT / "tests" / "reports" / "golden" / "report.json"
    code = (
        "import privaudit, sys; r = privaudit.load_report(sys.argv[1]); "
        "assert r._repr_html_().startswith('<!DOCTYPE html>'); print(len(r.to_dataframe()))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(golden)], cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    saved = privaudit.load_report(golden)
    assert int(result.stdout) == len(saved.attacks) + len(saved.references)
