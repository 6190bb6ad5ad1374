#!/usr/bin/env bash
# mypy over the package as it installs: privaudit/ with attacks/ and reports/ mapped to
# privaudit.attacks and privaudit.reports (setuptools package-dir). mypy cannot follow the
# editable install's import hook, so this builds the same tree from symlinks in a temp folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/privaudit"
for entry in "$root"/privaudit/*; do ln -s "$entry" "$tree/privaudit/$(basename "$entry")"; done
ln -s "$root/attacks" "$tree/privaudit/attacks"
ln -s "$root/reports" "$tree/privaudit/reports"
cd "$tree"
python -m mypy --config-file "$root/pyproject.toml" -p privaudit "$@"
