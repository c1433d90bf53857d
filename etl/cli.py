"""The ``hssk`` command: a thin shell over the library.

Commands parse options, call one library function and render its result. Expected problems are
one line with a hint and a documented exit code (see :mod:`etl.errors`); tracebacks only with -vv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etl import __version__, logs
from etl.commands import (
    admin,
    batches,
    explain,
    export,
    person,
    pipeline,
    report,
    review,
    sources,
)
from etl.commands.common import Context
from etl.errors import EXIT_FAILED, HsskError


class HsskGroup(click.Group):
    """Translates library errors into one actionable line and an exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except HsskError as exc:
            verbosity = ctx.obj.verbosity if isinstance(ctx.obj, Context) else 0
            if verbosity >= 2:
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing from the unfinished batch was committed", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=HsskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hssk")
@click.option("--db", envvar="HSSK_DB", metavar="URL",
              help="Database URL (default sqlite:///hssk.db; e.g. postgresql://user@host/db). "
                   "Also read from HSSK_DB.")
@click.option("-v", "--verbose", count=True, help="More console output (-vv: debug, tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on the console; no progress.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Append JSON-lines logs (batch, stage, counts; never personal data) here.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, verbose: int, quiet: bool,
        log_file: Path | None) -> None:
    """Turn health-related source files into one HSSK record per citizen.

    Files go through extract → transform → match → load. Each stage can run alone and writes
    Parquet a person can open; `hssk run` does all of them in one go.

    Exit codes: 0 ok; 1 finished but rejects above the threshold; 2 usage or configuration
    error; 3 could not complete (source missing, database unreachable).
    """
    verbosity = -1 if quiet else verbose
    logs.setup(verbosity, log_file)
    ctx.obj = Context(db=db, verbosity=verbosity, quiet=quiet)


for _module in (admin, pipeline, sources, explain, export, report, batches, person, review):
    _module.register(cli)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="hssk", standalone_mode=True))


if __name__ == "__main__":
    main()
