"""`hssk review …`: the analysts' queue as a workbook, and its decisions back into the database."""

from __future__ import annotations

import json
from pathlib import Path

import click

from etl.commands.common import Context, json_option, pass_context
from etl.commands.person import by_option


@click.group("review")
def review_group() -> None:
    """The analysts' loop: export the open review pairs as a workbook, decide each pair
    (same / different / skip), import the workbook. Decisions are kept and honoured by every
    later run and `hssk match --full`.
    """


@review_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="XLSX workbook to write.")
@click.option("--limit", type=click.IntRange(0), metavar="N",
              help="At most N pairs (the highest priority first).")
@click.option("--commune", metavar="CODE",
              help="Only pairs with a record in this commune (old or post-2025 code).")
@click.option("--show-ids", is_flag=True, help="Write ID numbers in full instead of masked.")
@pass_context
def export_cmd(obj: Context, output: Path, limit: int | None, commune: str | None,
               show_ids: bool) -> None:
    """Write the open review queue as a workbook: sheet `review`, one pair per row with
    record_a and record_b (FILE:LOCATOR), a decision dropdown (same / different / skip), a note,
    both records side by side with differences highlighted, and why the pair is queued in
    English and Vietnamese. ID numbers masked unless --show-ids.

    Example: hssk review export -o review.xlsx
    """
    from etl.review import export_workbook

    result = export_workbook(obj.engine(), output, limit=limit, commune=commune,
                             show_ids=show_ids)
    if not obj.quiet:
        share = ("" if result.expected_same_share is None else
                 f"; the matcher expects {result.expected_same_share:.0%} of them to be one person")
        click.echo(f"wrote {result.pairs} pair(s) to review to {result.path}{share}")


@review_group.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@by_option
@json_option
@pass_context
def import_cmd(obj: Context, workbook: Path, by: str | None, as_json: bool) -> None:
    """Apply the decisions of a review workbook: `same` merges the two persons, `different`
    keeps them apart for good, `skip` or empty does nothing. Every row is checked first (edited
    key cells, unknown records, unknown words are refused, nothing applied); importing the same
    workbook again changes nothing.

    Example: hssk review import review.xlsx
    """
    from etl.review import import_workbook

    report = import_workbook(obj.engine(), workbook, by=by)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    if not obj.quiet:
        click.echo(f"{report.rows} row(s): merged {report.merged}, kept apart "
                   f"{report.kept_apart}, confirmed {report.confirmed}, unchanged "
                   f"{report.unchanged}, skipped {report.skipped}, refused {report.refused}")
    for row, why in report.refusals:
        click.echo(f"row {row}: refused: {why}", err=True)
    for row, why in report.conflicts:
        click.echo(f"row {row}: {why}", err=True)


def register(group: click.Group) -> None:
    group.add_command(review_group)
