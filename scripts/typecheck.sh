#!/usr/bin/env bash
# mypy over the package as it installs: privaudit/ with attacks/ and reports/ mapped to
# privaudit.attacks and privaudit.reports (setuptools package-dir). mypy cannot follow the
# editable install's import hook, so this builds the same tree from symlinks in a temp folder.
# The benchmarks are checked too: they use the library's inner API, and nothing else would
# notice when it changes under them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/privaudit"
for entry in "$root"/privaudit/*; do ln -s "$entry" "$tree/privaudit/$(basename "$entry")"; done
ln -s "$root/attacks" "$tree/privaudit/attacks"
ln -s "$root/reports" "$tree/privaudit/reports"
ln -s "$root/benchmarks" "$tree/benchmarks"
cd "$tree"
python -m mypy --config-file "$root/pyproject.toml" -p privaudit -p benchmarks "$@"
