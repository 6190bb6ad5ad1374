"""The benchmarks run (quick mode) and print the lines the README shows, which parse.

`python -m benchmarks --quick` runs every script of benchmarks/ with tiny sizes; the test
checks each section's provenance, tables and goal lines: present, well-formed, numbers
finite, verdicts consistent with the numbers. Never the timings or any other value: the
figures of a quick run mean nothing (speed goals live in the benchmarks, see the README).
The README must show the tables the full run prints, headed by that run's provenance.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNER = "python -m benchmarks"
# Every module of benchmarks/ but the package's own is a benchmark the runner runs.
NAMES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")
               if p.stem not in ("__init__", "__main__", "common"))
# Per benchmark: the captions its tables start with, and its goals (in order).
EXPECTED = {
    "bound": (("time, ", "where the bound's time goes", "bound peak memory vs feature size m"),
              ("time the bound adds to the feature extraction",
               "bound peak memory growth for 4x m")),
    "attacks": (("decoder training on cpu", "`privaudit assess` on the demo"),
                ("decoder training overhead vs the plain loop (cpu)",
                 "`privaudit assess` on the demo, budget smoke, wall time",
                 "`privaudit assess` on the demo, budget standard, wall time")),
    "harden": (("fine-tuning epoch times",),
               ("cem hinge epoch / noise-only epoch (epochs ≥ 2)",
                "cem bound epoch / noise-only epoch (epochs ≥ 2)",
                "adversarial epoch / noise-only epoch (epochs ≥ 2)",
                "noise-allocation epoch / noise-only epoch (epochs ≥ 2)")),
    "harden_demo": (("each configuration", "CEM vs noise-only at equal sigma"),
                    ("CEM bound, lambda 4: decoder MSE gain over noise-only at equal sigma",
                     "CEM bound, lambda 4: noisy test accuracy change vs noise-only")),
    "verdict": (("the demo at 3 sigmas", "dFIL vs the optimisation attack"),
                ("interval width at sigma 0.1: strongest attack's MSE / floor (S)",
                 "dFIL time / smoke optimisation attack time")),
    "defences": (("demo: cut layer3", "resnet: cut block2"),
                 ("demo: best defence's strongest-attack MSE gain over the noise-only frontier "
                  "at matched accuracy",
                  "resnet: best defence's strongest-attack MSE gain over the noise-only frontier "
                  "at matched accuracy")),
    "sweep": (("wall time of the sweep", "peak memory (driver and workers) by points",
               "accuracy cost per cut"),
              ("--jobs 2 speed-up over --jobs 1", "ray / local time, 2 workers each",
               "peak memory of the whole sweep / 1 point",
               "accuracies of a cut / its feature extraction (worst cut)")),
    "threads": (("wall time of `privaudit assess` on the demo",),
                ("wall time beside a busy process / alone, default threads",)),
}
NAMES_IN_ORDER = ("bound", "attacks", "verdict", "harden", "harden_demo", "defences", "sweep",
                  "threads")
NUMBER = re.compile(r"[-+−]?(?:\d[\d,]*\.?\d*(?:e[-+]?\d+)?|nan|inf)", re.I)
UNIT = r"(?: %| s| x| MiB)?"
GOAL = re.compile(rf"^- goal (met|missed): (.+) = (\S+)({UNIT}) \(goal (<=|>=) (\S+)({UNIT})\)$")
DATE = r"\d{4}-\d\d-\d\d"


def numbers(cell: str) -> list[float]:
    """Every number in a table cell (thousands separators and a Unicode minus allowed)."""
    return [float(n.replace(",", "").replace("−", "-")) for n in NUMBER.findall(cell)]


def tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every Markdown table in `text`: (caption line above it, header cells, row cells)."""
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            caption = next((c for c in reversed(lines[:i]) if c.strip()), "")
            rows, j = [], i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append(cells(lines[j]))
                j += 1
            found.append((caption.strip("*"), cells(lines[i]), rows))
            i = j
        else:
            i += 1
    return found


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def sections(output: str) -> dict[str, str]:
    """The output per benchmark, keyed by module name (the closing goals table left out)."""
    output = output.split("\n_Produced by")[0]
    parts = re.split(r"^### `python -m benchmarks\.(\w+)`", output, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.fixture(scope="module")
def quick(run_once: Callable[..., object]) -> str:
    done = run_once([sys.executable, "-m", "benchmarks", "--quick"], ROOT)
    assert done.returncode == 0, done.stderr[-3000:]  # type: ignore[attr-defined]
    return done.stdout  # type: ignore[attr-defined, no-any-return]


def test_every_benchmark_runs_in_quick_mode(quick: str) -> None:
    assert NAMES == sorted(EXPECTED), "a new benchmark: say what it prints in EXPECTED"
    assert list(sections(quick)) == list(NAMES_IN_ORDER)
    head = next(line for line in quick.splitlines() if line.startswith("_Produced by"))
    assert re.fullmatch(rf"_Produced by `{RUNNER} --quick` on {DATE} in \d+ s; .+\._", head)
    assert all(word in head for word in ("cores", "torch", "onnxruntime")), head


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_section_has_its_provenance_tables_and_goals(quick: str, name: str) -> None:
    text = sections(quick)[name]
    provenance = text.splitlines()[2]
    assert re.fullmatch(rf"_`python -m benchmarks\.{name}` \(run by `{RUNNER} --quick`\), "
                        rf"quick mode, {DATE}, \d+ s; .+ cores.+torch .+\._", provenance)
    assert "Quick mode: tiny sizes, one repeat" in text
    captions, goals = EXPECTED[name]
    found = tables(text)
    assert len(found) == len(captions)
    for (caption, header, rows), expected in zip(found, captions, strict=True):
        assert caption.startswith(expected), caption
        assert rows, caption
        for row in rows:
            assert len(row) == len(header), (caption, row)
            values = [v for cell in row[1:] for v in numbers(cell)]
            assert values and all(math.isfinite(v) for v in values), (caption, row)
    lines = [line for line in text.splitlines() if line.startswith("- goal")]
    assert [GOAL.match(line).group(2) for line in lines] == list(goals)  # type: ignore[union-attr]
    for line in lines:
        verdict, _, value, unit, op, limit, limit_unit = GOAL.match(line).groups()  # type: ignore[union-attr]
        value_f, limit_f = float(value), float(limit)
        assert math.isfinite(value_f) and math.isfinite(limit_f) and unit == limit_unit, line
        met = value_f <= limit_f if op == "<=" else value_f >= limit_f
        assert verdict == ("met" if met else "missed"), line


def test_goals_table_lists_every_goal_with_its_verdict(quick: str) -> None:
    caption, header, rows = tables(quick)[-1]
    assert (caption, header) == ("Goals", ["command", "measures", "goal", "measured"])
    goal_lines = [GOAL.match(line) for line in quick.splitlines() if line.startswith("- goal")]
    assert [row[1] for row in rows] == [m.group(2) for m in goal_lines if m]
    for row in rows:
        assert re.fullmatch(r"`python -m benchmarks\.\w+`", row[0]), row
        assert re.fullmatch(r"\*\*\S+( %| s| x)?, (met|missed)\*\*", row[3]), row


def test_harden_demo_prints_every_configuration(quick: str) -> None:
    _, _, rows = tables(sections(quick)["harden_demo"])[0]
    assert [row[0] for row in rows] == [
        "original (no fine-tune)", "noise-only, sigma 0.1", "noise-only, sigma 0.15",
        "noise-only, sigma 0.2", "noise-only, sigma 0.3", "CEM hinge, lambda 1",
        "CEM hinge, lambda 2", "**CEM bound, lambda 4** (default)", "CEM bound, lambda 8",
    ]


def test_readme_shows_the_full_run(quick: str) -> None:
    """The README's figures: a full run's tables, each headed by its command, date, machine."""
    readme = README.read_text(encoding="utf-8")
    assert re.search(rf"^_Produced by `{RUNNER}` on {DATE} in \d+ s; .+ cores.+\._$", readme,
                     re.M)
    for name in EXPECTED:
        by = rf"`python -m benchmarks\.{name}` \(run by `{RUNNER}( \w+)*`\)"
        assert re.search(rf"^_{by}, full mode, {DATE}, \d+ s; .+\._$", readme, re.M), name
    shown = {tuple(header) for _, header, _ in tables(readme)}
    for caption, header, _ in tables(quick):
        assert tuple(header) in shown, f"the README lacks the table {caption!r}"
    for match in filter(None, map(GOAL.match, quick.splitlines())):
        assert f"| {match.group(2)} |" in readme, f"the README lacks the goal {match.group(2)!r}"


def test_the_sweep_benchmark_prints_the_ceiling_of_its_jobs_goal(quick: str) -> None:
    """`--jobs 2` cannot gain more over `--jobs 1` than a second thread leaves to gain."""
    text = sections(quick)["sweep"]
    walls = next(rows for caption, _, rows in tables(text) if caption.startswith("wall time"))
    seconds = {(row[0], row[1]): float(row[2]) for row in walls}
    single, one = seconds[("local, 1 thread", "1")], seconds[("local", "1")]
    found = re.search(r"can gain at most 2 / ([\d.]+) = ([\d.]+)x over --jobs 1", text)
    assert found is not None, text
    # NOTE: the table's seconds are rounded to 0.1 s (a few seconds in quick mode) and the
    # note's ratios to 0.01: each agrees with the table within that rounding
    assert float(found.group(1)) == pytest.approx(single / one, rel=0.04, abs=0.006)
    assert float(found.group(2)) == pytest.approx(2 * one / single, rel=0.04, abs=0.006)
