"""`hssk inspect` (what a file looks like to the toolkit) and `hssk template` (clean workbooks)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from etl.commands.common import Context, json_option, pass_context, source_options


def _kinds() -> list[str]:
    from etl.kinds import known_kinds

    return known_kinds()


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(_kinds()), help="Read the file as this kind.")
@source_options
@click.option("--rows", default=5, show_default=True, help="How many parsed rows to show.")
@click.option("--show-ids", is_flag=True, help="Show ID numbers in full instead of masked.")
@json_option
@pass_context
def inspect_cmd(obj: Context, file: Path, kind: str | None, text_encoding: str | None,
                mapping_files: tuple[Path, ...], rows: int, show_ids: bool,
                as_json: bool) -> None:
    """Show how FILE would be read, before loading anything.

    Detected kind and encodings, each sheet's header band and column mapping (and unmapped
    columns), rows found, the first rows as parsed and the problems that would reject rows.

    Example: hssk inspect data/samples/khamsk_truong_14863.xlsx
    """
    from etl.inspect import inspect_file

    result = inspect_file(file, kind=kind, text_encoding=text_encoding,
                          mapping_files=list(mapping_files), preview=rows, show_ids=show_ids)
    if as_json:
        click.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2, default=str))
        return
    console = Console() if sys.stdout.isatty() else Console(width=140)
    console.print(f"[bold]{result.file}[/bold]: kind [bold]{result.kind}[/bold], reader "
                  f"{result.reader}, byte encoding {result.encoding or '-'}")
    previous: tuple[dict[str, str], list[str]] | None = None
    for sheet in result.sheets:
        where = f"header row(s) {sheet.header_rows}" if sheet.header_rows else "no header found"
        footer = f", footer at row {sheet.footer_row}" if sheet.footer_row else ""
        structure = (", skipped as structure: " + ", ".join(
            f"{k} {v}" for k, v in sheet.structure.items())) if sheet.structure else ""
        console.print(f"sheet [bold]{sheet.name}[/bold]: {sheet.kind or '-'}, font "
                      f"{sheet.text_encoding}, {where}, {sheet.data_rows} data rows{footer}"
                      f"{structure}")
        if previous == (sheet.mapping, sheet.unmapped) and sheet.mapping:
            console.print("    same columns as the sheet above")
            continue
        previous = (sheet.mapping, sheet.unmapped)
        for header, field in sheet.mapping.items():
            console.print(f"    {header!r} → {field}")
        for header in sheet.unmapped:
            console.print(f"    {header!r} → [yellow]not mapped[/yellow]")
    console.print(f"rows {result.rows}: would load {result.would_load}, would reject "
                  f"{sum(result.would_reject.values())}"
                  + (" (" + ", ".join(f"{k} {v}" for k, v in result.would_reject.items()) + ")"
                     if result.would_reject else ""))
    if result.findings:
        console.print("findings: " + ", ".join(f"{k} {v}" for k, v in result.findings.items()))
    for note in result.notes:
        console.print(f"note: {note}")
    if result.preview:
        table = Table(title="first rows as parsed")
        for col in result.preview[0]:
            table.add_column(col)
        for row in result.preview:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)


@click.command("template")
@click.argument("kind", type=click.Choice(["school-exam", "adult-exam", "immunization",
                                           "registry", "insurance"]))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="XLSX file to write.")
@pass_context
def template_cmd(obj: Context, kind: str, output: Path) -> None:
    """Write a clean XLSX template for KIND: headers, dropdowns, date cells, instructions.

    Example: hssk template school-exam -o mau_kham_suc_khoe.xlsx
    """
    from etl.template import write_template

    path = write_template(kind, output)
    if not obj.quiet:
        click.echo(f"wrote {kind} template to {path}")


def register(group: click.Group) -> None:
    group.add_command(inspect_cmd)
    group.add_command(template_cmd)
