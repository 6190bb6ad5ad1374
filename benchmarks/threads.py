"""`privaudit assess` wall time alone and beside a busy process: default threads vs before.

    python -m benchmarks.threads [--limit 0] [--repeats 2] [--attacks/--no-attacks] [--quick]

Runs the demo `privaudit assess` (smoke budget; `run_assess`, what the command runs after
its imports, which take the same few seconds under every setting) alone and beside a
CPU-bound process on every core (one pure-Python busy loop per core, started
before and stopped after each run), once with the default threads and once as before; the
four runs alternate in each repeat so that they see the same machine. It prints the median
wall times and their ratios.

"Default" is the new default of `threads`: the CPUs this process may use
(`len(os.sched_getaffinity(0))`). "Before" is what privaudit did until `--threads` existed:
it set no thread count at all, so torch ran with its own default, the BLAS pools with theirs
(every CPU), and every onnxruntime session with 2 intra-op threads. It is emulated with
`--threads T` (the key `threads = T`), T being `torch.get_num_threads()` in a fresh process
(probed here): exact for torch and for the BLAS pools whose default is T too; onnxruntime
then gets T threads instead of 2, which is the same on a 2-CPU machine. Where torch's
default equals the CPUs this process may use (torch's OpenMP follows the CPU affinity on
Linux), the two settings coincide and their rows differ only by the machine's noise; they
part where torch's default does not follow the CPUs a process may use (other builds, or a
default of physical cores only).

The goal is on the default: beside a busy process on every core, `assess` gets about half
of the CPU time (its threads against as many busy ones), so its CPU-bound part takes about
2x; the goal allows 3x, 50 % over that fair share for the stalls of threads that wait for a
descheduled peer (OpenMP barriers; tests/conftest.py notes up to 10x for 2 torch threads on
a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks.common import Goal, Result, Table, main_of, plural
from privaudit.audit import run_assess
from privaudit.config import load_config
from privaudit.threads import available_cores

TITLE = "`privaudit assess` beside a busy process, default threads vs before"
GOAL_RATIO = 3.0
FULL: dict[str, Any] = {"limit": 0, "repeats": 2, "attacks": True}
QUICK: dict[str, Any] = {"limit": 120, "repeats": 1, "attacks": False}
BUSY_LOOP = "while True:\n    pass\n"
SETTLE_SECONDS = 0.5  # the busy processes are spinning before the run starts


def parser() -> argparse.ArgumentParser:
    """The options (sizes, repeats) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=FULL["limit"],
                    help="demo samples (0: all 2000)")
    ap.add_argument("--repeats", type=int, default=FULL["repeats"])
    ap.add_argument("--attacks", action=argparse.BooleanOptionalAction,
                    default=FULL["attacks"], help="run the smoke budget's attacks too")
    return ap


def torch_default_threads() -> int:
    """`torch.get_num_threads()` in a fresh process: torch's own default here."""
    done = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` CPU-bound Python processes, spinning for the block's duration."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(processes)]
    try:
        time.sleep(SETTLE_SECONDS)
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def assess_seconds(args: argparse.Namespace, threads: int | None) -> float:
    """Wall time of one `assess` of the demo (smoke budget), `run_assess` as the CLI calls it."""
    cfg = load_config(None, {"attacks.budget": "smoke", "limit": args.limit or None,
                             "threads": threads, "attacks.enabled": None if args.attacks
                             else ()}, search=False)  # fmt: skip
    start = time.perf_counter()
    run_assess(cfg)
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> Result:
    """Alternate the four runs (default/before x alone/busy) `repeats` times; medians."""
    cores, before = available_cores(), torch_default_threads()
    settings = {"default": None, "before": before}
    assess_seconds(argparse.Namespace(limit=60, attacks=False), None)  # warm-up: first calls
    times: dict[tuple[str, bool], list[float]] = {(s, b): [] for s in settings
                                                   for b in (False, True)}
    for r in range(args.repeats):
        order = list(settings) if r % 2 == 0 else list(settings)[::-1]
        for name in order:
            times[(name, False)].append(assess_seconds(args, settings[name]))
            with busy(cores):
                times[(name, True)].append(assess_seconds(args, settings[name]))
    med = {key: statistics.median(values) for key, values in times.items()}
    rows = tuple(
        (f"{name} ({plural(before if name == 'before' else cores, 'thread')})",
         f"{med[(name, False)]:.1f}", f"{med[(name, True)]:.1f}",
         f"{med[(name, True)] / med[(name, False)]:.2f}")
        for name in settings
    )
    rows += (("before / default", f"{med[('before', False)] / med[('default', False)]:.2f}",
              f"{med[('before', True)] / med[('default', True)]:.2f}", "n/a"),)
    data = f"{args.limit or 2000} demo samples" + ("" if args.attacks else ", no attacks")
    table = Table(
        f"wall time of `privaudit assess` on the demo (smoke budget, {data}), median over "
        f"{plural(args.repeats, 'repeat')}",
        ("threads", "alone (s)", f"beside {plural(cores, 'busy loop')} (s)", "busy / alone"),
        rows,
    )
    goal = Goal("wall time beside a busy process / alone, default threads",
                med[("default", True)] / med[("default", False)], "<=", GOAL_RATIO, " x")
    notes = (f"Default: {plural(cores, 'thread')} (the CPUs this process may use); before: "
             f"torch's own default in a fresh process, {plural(before, 'thread')}"
             + (" (the same here)." if before == cores else "."),)
    text = (f"demo `privaudit assess --budget smoke`, {data}, the run without the process's "
            f"start (imports, the same for every setting), {cores} CPUs, busy load: "
            f"{plural(cores, 'pure-Python busy loop')}")
    return Result("threads", TITLE, text, (table,), (goal,), notes, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
