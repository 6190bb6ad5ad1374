"""The `privaudit` command line: typer commands, options, error handling and console output.

Only this package prints and exits: the commands parse flags into config keys, run the
library, write the reports and map outcomes to the documented exit codes (0/1/2/3/130).
"""

from privaudit.cli.app import app, main

__all__ = ["app", "main"]
