"""Compare two folders written by ``scripts/report_snapshot.py``, ignoring timings and times.

Usage: ``python scripts/compare_snapshots.py BEFORE AFTER``; exit 0 when every file is equal
after scrubbing, 1 otherwise (the differing files and their first differing lines are listed).
Scrubbed: ``created_at`` timestamps, ``provenance.timings`` and every attack's ``seconds``
(JSON), the same numbers in the other formats (time rows, seconds columns), absolute paths of
the two folders, and the hardened model's hash (its metadata holds no time, but its path does).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any


def _scrub_json(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("created_at", "timings", "seconds"):
                out[key] = "<scrubbed>"
            else:
                out[key] = _scrub_json(item)
        return out
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    return value


_TEXT_RULES = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"), "<time>"),
    (re.compile(r"(time: [\w ]+ \(s\)\W+)[\d.e+-]+"), r"\1<t>"),
    (re.compile(r"(<td>)[\d.e+-]+(</td>)(?=\s*<td>)?"), r"\1\2"),
]


def _scrub_text(text: str, root: str) -> str:
    text = text.replace(root, "<root>")
    for pattern, repl in _TEXT_RULES[:2]:
        text = pattern.sub(repl, text)
    return text


def _load(path: Path, root: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").replace(str(root), "<root>")
    if path.suffix == ".json" or path.name.endswith(".stdout") and text.lstrip().startswith(("{",
                                                                                           "[")):
        try:
            return json.dumps(_scrub_json(json.loads(text)), indent=1, sort_keys=False)
        except json.JSONDecodeError:
            pass
    if path.suffix == ".csv":
        return _scrub_csv(text)
    return _scrub_text(text, str(root))


def _scrub_csv(text: str) -> str:
    lines = text.splitlines()
    if not lines:
        return text
    header = lines[0].split(",")
    drop = {i for i, h in enumerate(header) if h in ("seconds",)}
    out = []
    for line in lines:
        cells = line.split(",")
        out.append(",".join("<s>" if i in drop else c for i, c in enumerate(cells)))
    return "\n".join(out)


def main(before: Path, after: Path) -> int:
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    bad = 0
    for name in names:
        if name.suffix in (".onnx", ".npz"):
            continue
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"only in {'after' if b.exists() else 'before'}: {name}")
            bad += 1
            continue
        ta, tb = _load(a, before), _load(b, after)
        if name.suffix in (".html", ".md"):
            ta, tb = _strip_times(ta), _strip_times(tb)
        if ta != tb:
            bad += 1
            diff = list(difflib.unified_diff(ta.splitlines(), tb.splitlines(), lineterm="", n=0))
            print(f"DIFFERS: {name} ({len(diff)} diff lines)")
            for line in diff[2:14]:
                print("   ", line[:200])
    print(f"{len(names)} files compared, {bad} differ")
    return 1 if bad else 0


def _strip_times(text: str) -> str:
    # NOTE: the per-attack time column and the per-stage time rows hold measured seconds.
    text = re.sub(r"(time: [^|<]*\(s\)\s*(?:\|\s*|</th><td>))[^|<]*", r"\1<t>", text)
    text = re.sub(r"\b\d+\.\d+ s\b", "<t> s", text)
    return _blank_column(_blank_html_column(text, "seconds"), "seconds")


def _blank_column(text: str, header: str) -> str:
    """Blank the cells of Markdown table columns named `header`."""
    out, index = [], None
    for line in text.splitlines():
        cells = line.split("|")
        if line.startswith("|") and f" {header} " in line:
            index = [c.strip() for c in cells].index(header)
        elif not line.startswith("|"):
            index = None
        elif index is not None and len(cells) > index and not set(cells[index]) <= set(" -:"):
            cells[index] = " <t> "
            line = "|".join(cells)
        out.append(line)
    return "\n".join(out)


def _blank_html_column(text: str, header: str) -> str:
    """Blank the cells of HTML table columns named `header`."""
    def table(match: re.Match[str]) -> str:
        body = match.group(0)
        head = body.split("</thead>")[0] if "</thead>" in body else ""
        heads = re.findall(r"<th>(.*?)</th>", head)
        if header not in heads:
            return body
        col = heads.index(header)

        def row(m: re.Match[str]) -> str:
            cells = re.findall(r"<td>.*?</td>", m.group(0))
            if len(cells) <= col:
                return m.group(0)
            cells[col] = "<td><t></td>"
            return "<tr>" + "".join(cells) + "</tr>"

        return re.sub(r"<tr>(?:<td>.*?</td>)+</tr>", row, body)

    return re.sub(r"<table>.*?</table>", table, text, flags=re.S)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
