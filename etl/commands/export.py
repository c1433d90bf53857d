"""`hssk export …`: files for people and other tools, from the database."""

from __future__ import annotations

from pathlib import Path

import click

from etl.commands.common import Context, pass_context


@click.group("export")
def export_group() -> None:
    """Write data out of the HSSK database."""


@export_group.command("links")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write.")
@pass_context
def links_cmd(obj: Context, output: Path) -> None:
    """One row per source record: source_file, locator, person_id.

    Example: hssk export links -o links.csv
    """
    from etl.export import export_links

    n = export_links(obj.engine(), output)
    if not obj.quiet:
        click.echo(f"wrote {n} links to {output}")


@export_group.command("review")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write (UTF-8 with BOM, so Excel shows Vietnamese correctly).")
@click.option("--show-ids", is_flag=True, help="Write ID numbers in full instead of masked.")
@pass_context
def review_cmd(obj: Context, output: Path, show_ids: bool) -> None:
    """The analysts' queue: record pairs that might be one person, strongest first.

    Each row has both records' file, locator, name, birth date and masked ID number; use
    `hssk explain` on a pair to see why it scored as it did.

    Example: hssk export review -o review.csv
    """
    from etl.export import export_review

    n = export_review(obj.engine(), output, show_ids=show_ids)
    if not obj.quiet:
        click.echo(f"wrote {n} pairs to review to {output}")


def register(group: click.Group) -> None:
    group.add_command(export_group)
