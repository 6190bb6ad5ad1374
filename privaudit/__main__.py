"""Entry point for ``python -m privaudit``."""

from privaudit.cli import main

# NOTE: guarded, as the sweep's worker processes (spawned) import the main module again.
if __name__ == "__main__":
    main()
