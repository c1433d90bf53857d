"""Past runs and what they rejected: `hssk batches`, `hssk rejects`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from etl.commands.common import Context, pass_context


@click.command("batches")
@click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON instead of a table.")
@pass_context
def batches_cmd(obj: Context, as_json: bool) -> None:
    """List past batches, oldest first: id, started, finished, status, command, files, and rows
    read / created / updated / unchanged / gone (no longer current) / rejected.

    Example: hssk batches
    """
    from etl.summary import HISTORY_COLUMNS, batch_history

    rows = batch_history(obj.engine())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="hssk batches")
    for col in HISTORY_COLUMNS:
        table.add_column(col, justify="right" if col in ("id", "files") or col not in (
            "started", "finished", "status", "command") else "left")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in HISTORY_COLUMNS))
    (Console() if sys.stdout.isatty() else Console(width=160)).print(table)


@click.command("rejects")
@click.argument("batch", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV or XLSX file to write (by its extension).")
@click.option("--show-ids", is_flag=True, help="Write ID numbers in full instead of masked.")
@pass_context
def rejects_cmd(obj: Context, batch: int, output: Path, show_ids: bool) -> None:
    """Write the rows BATCH rejected, to hand back to whoever sent them: file, position, stage,
    reason, message and the row's original columns; ID numbers masked unless --show-ids, cells
    safe from spreadsheet formula injection.

    Example: hssk rejects 1 -o rejects.xlsx
    """
    from etl.summary import write_batch_rejects

    n = write_batch_rejects(obj.engine(), batch, output, show_ids=show_ids)
    if not obj.quiet:
        click.echo(f"{n} rejected row{'' if n == 1 else 's'} of batch {batch} written to "
                   f"{output}")


def register(group: click.Group) -> None:
    for command in (batches_cmd, rejects_cmd):
        group.add_command(command)
