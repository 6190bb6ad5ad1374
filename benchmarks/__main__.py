"""Run every benchmark and print the README's Markdown tables.

    python -m benchmarks [--quick] [NAME ...]

Full mode by default (the README's figures; about half an hour on 2 CPU cores); `--quick`
runs the same code with tiny sizes in about a minute (what the tests run). Each section
is printed when its benchmark ends, headed by the command, date and machine that produced
it; the table of every goal with its verdict comes last.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence

from benchmarks import NAMES
from benchmarks.common import Result, machine, parse, render, summary, timed, today


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named benchmarks (all by default) and print their Markdown."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", choices=[[], *NAMES], metavar="NAME",
                    help=f"which to run (default: all of {', '.join(NAMES)})")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    args = ap.parse_args(argv)
    host, start = machine(), time.perf_counter()  # NOTE: each section records its own load
    command = " ".join(["python -m benchmarks", *args.names, *(["--quick"] if args.quick else [])])
    results: list[Result] = []
    for name in args.names or NAMES:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {module.__name__} ({'quick' if args.quick else 'full'} mode)",
              file=sys.stderr, flush=True)
        options = parse(module.parser, module.QUICK, ["--quick"] if args.quick else [])
        results.append(timed(module.run, options))
        print(render(results[-1], via=command) + "\n", flush=True)
    print(f"_Produced by `{command}` on {today()} in {time.perf_counter() - start:.0f} s; "
          f"{host}._\n")
    print(summary(results).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
