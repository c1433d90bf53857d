"""Stage commands (extract, transform, match, load) and `run`, which chains them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from etl.commands.common import (
    Context,
    ProgressReporter,
    json_option,
    output_dir_option,
    pass_context,
    policy_option,
    render_summary,
    source_options,
    threshold_options,
)
from etl.errors import EXIT_REJECTS
from etl.summary import RunSummary


def _kind_choice() -> click.Choice:
    from etl.extract import clinic_xml
    from etl.extract.mapping import builtin_mappings

    return click.Choice(["auto", *sorted([*builtin_mappings(), clinic_xml.KIND])])


def _stage_summary(command: str, data, as_json: bool, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    from etl.pipeline import dry_run_counts

    summary = RunSummary(command=command, dry_run=True)
    summary.files = dry_run_counts(data)
    summary.count_findings(data.issues, data.rejects)
    summary.notes = [f"{n['source_file']}: {n['message']}" for n in data.meta.get("notes", [])]
    render_summary(summary, as_json, quiet)


@click.command("extract")
@click.argument("kind", type=_kind_choice())
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_dir_option
@source_options
@json_option
@pass_context
def extract_cmd(obj: Context, kind: str, files: tuple[Path, ...], output: Path,
                text_encoding: str | None, mapping_files: tuple[Path, ...],
                as_json: bool) -> None:
    """Read source FILES of KIND (or `auto`) into a staged Parquet folder.

    Example: hssk extract registry data/samples/registry_*.csv -o work/staged
    """
    from etl.extract import extract_files
    from etl.stage import write_stage

    with ProgressReporter(obj.quiet) as progress:
        result = extract_files(list(files), kind=None if kind == "auto" else kind,
                               text_encoding=text_encoding, mapping_files=list(mapping_files),
                               progress=progress)
    write_stage(result.data, output)
    _stage_summary("extract", result.data, as_json, obj.quiet)


@click.command("transform")
@click.argument("stage_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@output_dir_option
@policy_option
@json_option
@pass_context
def transform_cmd(obj: Context, stage_dir: Path, output: Path, policy: Path | None,
                  as_json: bool) -> None:
    """Parse names, dates, sexes, identifiers and codes of an extracted folder.

    Example: hssk transform work/staged -o work/clean
    """
    from etl.stage import read_stage, write_stage
    from etl.transform import transform_stage
    from etl.transform.validate import load_policy

    data = transform_stage(read_stage(stage_dir, "extract"),
                           policy=load_policy(policy) if policy else None)
    write_stage(data, output)
    _stage_summary("transform", data, as_json, obj.quiet)


@click.command("match")
@click.argument("stage_dir", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the matched stage into (with STAGE_DIR).")
@click.option("--full", is_flag=True,
              help="Relink every loaded record afresh, keeping person ids where clusters persist.")
@threshold_options
@json_option
@pass_context
def match_cmd(obj: Context, stage_dir: Path | None, output: Path | None, full: bool,
              link_threshold: float, review_threshold: float, as_json: bool) -> None:
    """Give every transformed record a person id, reading persons already in the database.

    With --full (and no STAGE_DIR), relink everything in the database instead: persons whose
    records still belong together keep their ids, wrong merges are split into new persons.

    Example: hssk match work/clean -o work/matched    ·    hssk match --full
    """
    from etl.errors import UsageError
    from etl.load.db import require_current
    from etl.match import match_stage
    from etl.match.engine import Thresholds
    from etl.stage import read_stage, write_stage

    thresholds = Thresholds(link_threshold, review_threshold)
    engine = obj.engine()
    require_current(engine)
    if full:
        if stage_dir is not None:
            raise UsageError("--full relinks the database; give no STAGE_DIR with it")
        from etl.match.relink import relink

        summary = relink(engine, thresholds)
        if as_json:
            click.echo(json.dumps(summary.as_dict(), indent=2))
        elif not obj.quiet:
            click.echo(f"relinked {summary.records} records: {summary.records_moved} moved; "
                       f"persons {summary.persons_before} → {summary.persons_after} "
                       f"(kept {summary.persons_kept}, created {summary.persons_created}, "
                       f"removed {summary.persons_removed}); batch {summary.batch_id}")
        return
    if stage_dir is None or output is None:
        raise UsageError("give STAGE_DIR and -o DIR, or --full")
    data = match_stage(read_stage(stage_dir, "transform"), engine, thresholds)
    write_stage(data, output)
    _stage_summary("match", data, as_json, obj.quiet)


@click.command("load")
@click.argument("stage_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
@pass_context
def load_cmd(obj: Context, stage_dir: Path, as_json: bool) -> None:
    """Load a matched folder into the database as one atomic batch.

    Example: hssk load work/matched
    """
    from etl.load import load_stage
    from etl.load.db import redact
    from etl.stage import read_stage

    data = read_stage(stage_dir, "match")
    engine = obj.engine()
    with ProgressReporter(obj.quiet) as progress:
        counts = load_stage(data, engine, command="load", progress=progress)
    summary = RunSummary(command="load", database=redact(str(engine.url)))
    summary.absorb(counts)
    summary.count_findings(data.issues, data.rejects)
    render_summary(summary, as_json, obj.quiet)


@click.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=_kind_choice(), default="auto", show_default=True,
              help="Treat every file as this kind instead of detecting it from its content.")
@source_options
@click.option("--keep-stages", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each stage's Parquet folder under this directory.")
@click.option("--dry-run", is_flag=True, help="Do everything but load; report what would load.")
@policy_option
@threshold_options
@click.option("--max-reject-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Exit with code 1 when more than this share of rows is rejected.")
@json_option
@pass_context
def run_cmd(obj: Context, paths: tuple[Path, ...], kind: str, text_encoding: str | None,
            mapping_files: tuple[Path, ...], keep_stages: Path | None, dry_run: bool,
            policy: Path | None, link_threshold: float, review_threshold: float,
            max_reject_rate: float, as_json: bool) -> None:
    """Extract, transform, match and load PATHS (files or folders, walked recursively).

    Each file's kind is detected from its content. Re-running the same files changes nothing.

    Example: hssk run data/samples/
    """
    from etl.load.db import require_current
    from etl.match.engine import Thresholds
    from etl.pipeline import run
    from etl.transform.validate import load_policy

    engine = obj.engine()
    require_current(engine)
    with ProgressReporter(obj.quiet) as progress:
        summary = run(list(paths), engine, kind=None if kind == "auto" else kind,
                      text_encoding=text_encoding, mapping_files=list(mapping_files),
                      keep_stages=keep_stages, dry_run=dry_run, progress=progress,
                      policy=load_policy(policy) if policy else None,
                      thresholds=Thresholds(link_threshold, review_threshold))
    render_summary(summary, as_json, obj.quiet)
    if summary.read and summary.rejected / max(summary.read, 1) > max_reject_rate:
        raise SystemExit(EXIT_REJECTS)


def register(group: click.Group) -> None:
    for command in (extract_cmd, transform_cmd, match_cmd, load_cmd, run_cmd):
        group.add_command(command)
