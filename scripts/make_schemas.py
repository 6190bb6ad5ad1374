"""Write the published JSON Schemas of report.json and sweep.json into the package.

    python scripts/make_schemas.py

They are derived from the result dataclasses (`privaudit.results.published`); run this after
changing a result field. tests/results/test_published_schema.py fails while they are stale.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from privaudit.results.published import SCHEMA_KINDS, schema_text


def main() -> None:
    folder = Path(str(resources.files("privaudit.results"))) / "schemas"
    folder.mkdir(exist_ok=True)
    for kind, (_, filename) in SCHEMA_KINDS.items():
        (folder / filename).write_text(schema_text(kind), encoding="utf-8")
        print(f"wrote {folder / filename}")


if __name__ == "__main__":
    main()
