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


@export_group.command("fhir")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write one NDJSON file per resource type into.")
@click.option("--since", type=click.IntRange(0), metavar="BATCH",
              help="Only persons and resources that batches after this batch id created or "
                   "changed.")
@pass_context
def fhir_cmd(obj: Context, output: Path, since: int | None) -> None:
    """FHIR R4 bulk data: Patient, Encounter, Observation, Condition and Immunization NDJSON.

    One Patient per person (identifiers, Vietnamese name parts, birth date as precise as it is
    known, commune codes); every other resource points at its Patient and, where known, its
    Encounter. Vital signs carry LOINC codes and UCUM units, diagnoses ICD-10.

    Example: hssk export fhir -o fhir/
    """
    from etl.report.fhir import export_fhir

    counts = export_fhir(obj.engine(), output, since=since)
    if not obj.quiet:
        click.echo(", ".join(f"{kind} {n}" for kind, n in counts.items()) + f" → {output}")


@export_group.command("persons")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (.csv, .xlsx or .parquet).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "parquet"]),
              help="File format (default: from the file's extension, else csv).")
@click.option("--show-ids", is_flag=True, help="Write ID numbers in full instead of masked.")
@click.option("--pseudonymize", is_flag=True,
              help="Replace person ids with salted HMAC-SHA256 pseudonyms and leave names and "
                   "ID numbers out (for analysts outside the health centre).")
@click.option("--salt", envvar="HSSK_PSEUDONYM_SALT", metavar="SECRET",
              help="Secret salt of the pseudonyms; required with --pseudonymize, never "
                   "defaulted. Also read from HSSK_PSEUDONYM_SALT (safer than the command "
                   "line).")
@pass_context
def persons_cmd(obj: Context, output: Path, fmt: str | None, show_ids: bool, pseudonymize: bool,
                salt: str | None) -> None:
    """One row per person: name, sex, birth date as far as known, ethnicity, commune codes.

    ID numbers are masked unless --show-ids; spreadsheet cells are formula-safe.

    Example: hssk export persons -o persons.csv
    """
    from etl.export import export_persons

    n = export_persons(obj.engine(), output, fmt=fmt, show_ids=show_ids,
                       pseudonymize=pseudonymize, salt=salt)
    if not obj.quiet:
        click.echo(f"wrote {n} persons to {output}")


def register(group: click.Group) -> None:
    group.add_command(export_group)
