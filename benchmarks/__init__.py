"""The benchmarks: speed and privacy goals measured side by side in one run (see README).

`python -m benchmarks` runs them all in full and prints the README's Markdown tables;
`python -m benchmarks --quick` the same with tiny sizes; `python -m benchmarks.bound` runs one.
"""

NAMES = ("bound", "attacks", "verdict", "harden", "harden_demo", "defences", "sweep", "threads")
"""The benchmark modules, in the order `python -m benchmarks` runs them."""
