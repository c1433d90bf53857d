"""`hssk init` (schema) and `hssk samples` (synthetic data)."""

from __future__ import annotations

from pathlib import Path

import click

from etl.commands.common import Context, pass_context
from etl.synth.sources import WRITER_KINDS


@click.command("init")
@pass_context
def init_cmd(obj: Context) -> None:
    """Create the HSSK database schema, or upgrade it to this version's.

    Example: hssk --db postgresql://postgres@127.0.0.1/hssk init
    """
    from etl.load.db import migrate, redact

    engine = obj.engine()
    before, after = migrate(engine)
    if not obj.quiet:
        where = redact(str(engine.url))
        if before == after:
            click.echo(f"{where}: schema is current ({after})")
        else:
            click.echo(f"{where}: schema {before or 'none'} → {after}")


@click.command("samples")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the sample files and ground truth into.")
@click.option("--people", default=1000, show_default=True, type=click.IntRange(10),
              help="How many residents to simulate.")
@click.option("--seed", default=831, show_default=True, type=int,
              help="Random seed: the same seed writes the same files.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(sorted(WRITER_KINDS)),
              help="Only these source kinds (repeatable; default: all).")
@click.option("--province", metavar="CODE",
              help="Spread the residents over every commune of this province (GSO code, e.g. "
                   "38) and write its registry as one CSV: a province-scale extract.")
@pass_context
def samples_cmd(obj: Context, output: Path, people: int, seed: int,
                kinds: tuple[str, ...], province: str | None) -> None:
    """Write realistic synthetic source files for every kind, with a ground-truth file.

    No real person's data: names, dates and numbers are generated.

    Example: hssk samples -o data/samples --people 1000 --seed 831
    """
    from etl import reference
    from etl.synth import write_samples

    if province is not None and province not in reference.province_codes():
        raise click.BadParameter(f"{province!r} is not a GSO province code (01–96)",
                                 param_hint="--province")
    written = write_samples(output, people=people, seed=seed, kinds=list(kinds) or None,
                            province=province)
    if not obj.quiet:
        for path, rows in written.items():
            click.echo(f"{rows:>7}  {path}")


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
    group.add_command(samples_cmd)
