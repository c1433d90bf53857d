"""`hssk report …`: the pages and workbooks the district reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from etl.commands.common import Context, pass_context


def _report_dir(f):  # type: ignore[no-untyped-def]
    return click.option("-o", "--output", required=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Folder to write the HTML page and the XLSX workbook into.")(f)


@click.group("report")
def report_group() -> None:
    """Reports for the district: plan coverage and data quality, as a page and a workbook."""


@report_group.command("coverage")
@_report_dir
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Report date (YYYY-MM-DD; default today): the 12-month visit window ends "
                   "here and it picks the plan's target in force.")
@click.option("--target", type=click.FloatRange(0, 100),
              help="Coverage target in percent, instead of the plan's target at the report "
                   "date (80 in year one, 100 after).")
@pass_context
def coverage_cmd(obj: Context, output: Path, as_of: dt.datetime | None,
                 target: float | None) -> None:
    """Plan coverage per commune (old and new units), district and province.

    Residents (persons with a population-registry record), those whose record holds health
    data, those seen in the last 12 months, those with complete administrative data, by age
    group, sex and ethnicity, against the target with the gap in people, and the coverage
    after each batch. Writes coverage.html (self-contained, charts inline) and coverage.xlsx;
    the same database and --as-of give the same bytes.

    Example: hssk report coverage --as-of 2025-12-31 -o reports
    """
    from etl.report.coverage import coverage_report, write_coverage

    report = coverage_report(obj.engine(), as_of=as_of.date() if as_of else None, target=target)
    written = write_coverage(report, output)
    if not obj.quiet:
        t = report.totals
        click.echo(f"{t['with_health_data']} of {t['residents']} residents have health data "
                   f"({t['coverage_pct'] if t['coverage_pct'] is not None else '–'} %, target "
                   f"{report.target.pct:g} %, gap {t['gap_people']} people)")
        for path in written.values():
            click.echo(f"wrote {path}")


@report_group.command("quality")
@_report_dir
@pass_context
def quality_cmd(obj: Context, output: Path) -> None:
    """Data quality per source file and batch, to send back to whoever sent the file.

    Rows read, rejects by reason, invalid or inconsistent ID numbers, missing fields,
    legacy-font repairs, records sent to review and likely duplicates still open. Counts
    only: no names or ID numbers. Writes quality.html and quality.xlsx.

    Example: hssk report quality -o reports
    """
    from etl.report.quality import quality_report, write_quality

    report = quality_report(obj.engine())
    written = write_quality(report, output)
    if not obj.quiet:
        t = report.totals
        click.echo(f"{t['files']} files, {t['rows_read']} rows read, {t['rejected']} rejected, "
                   f"{t['open_review_pairs']} review pairs open")
        for path in written.values():
            click.echo(f"wrote {path}")


def register(group: click.Group) -> None:
    group.add_command(report_group)
