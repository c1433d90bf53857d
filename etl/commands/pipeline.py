"""Stage commands (extract, transform, match, load) and `run`, which chains them."""

from __future__ import annotations

import dataclasses
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
    from etl.match.decide import Thresholds
    from etl.pipeline import match_against
    from etl.stage import read_stage, write_stage

    thresholds = Thresholds(link_threshold, review_threshold)
    engine = obj.engine()
    require_current(engine)
    if full:
        if stage_dir is not None:
            raise UsageError("--full relinks the database; give no STAGE_DIR with it")
        from etl.relink import relink

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
    data = match_against(read_stage(stage_dir, "transform"), engine, thresholds)
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
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="Job file (YAML): database, sources, thresholds, policy, reject rate and "
                   "summary folder; options given beside it override the file.")
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
@click.option("--summary", "summary_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the summary as batch-<id>.json into this folder.")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Seconds to wait while another run holds the database; then exit 3.")
@click.option("--executor", type=click.Choice(["serial", "processes", "dask"]),
              default="serial", show_default=True,
              help="Where extract and transform run: here in chunks, one process per core, or "
                   "on Dask (HSSK_DASK_SCHEDULER=tcp://host:8786 for a running cluster); "
                   "matching and loading stay here.")
@json_option
@pass_context
@click.pass_context
def run_cmd(ctx: click.Context, obj: Context, paths: tuple[Path, ...], config: Path | None,
            kind: str, text_encoding: str | None, mapping_files: tuple[Path, ...],
            keep_stages: Path | None, dry_run: bool, policy: Path | None,
            link_threshold: float, review_threshold: float, max_reject_rate: float,
            summary_dir: Path | None, wait: float, executor: str, as_json: bool) -> None:
    """Extract, transform, match and load PATHS (files or folders, walked recursively), or the
    sources of a job file (--config job.yaml), one run at a time per database.

    Each file's kind is detected from its content. Re-running the same files changes nothing.
    A job's snapshot feeds are replaced by their newer extract: changed rows update their
    record, vanished rows are marked no longer current. A second run at the same time waits
    --wait seconds, then exits 3 naming the run that holds the database.

    Example: hssk run data/samples/    ·    hssk run --config data/job.example.yaml
    """
    from etl.errors import UsageError
    from etl.load.db import connect, require_current
    from etl.load.lock import RunLock
    from etl.match.decide import Thresholds
    from etl.pipeline import run, run_job
    from etl.summary import write_summary
    from etl.transform.validate import load_policy

    if not paths and config is None:
        raise UsageError("give PATHS (files or folders) or --config job.yaml")
    job = _job_with_overrides(ctx, config, paths) if config else None
    engine = connect(job.database if job and job.database else obj.db) if job else obj.engine()
    require_current(engine)
    common = {"keep_stages": keep_stages, "dry_run": dry_run, "executor": executor}
    with RunLock(engine, command="run", wait=wait) as lock, \
            ProgressReporter(obj.quiet, lines=not as_json) as progress:
        if job is not None:
            summary = run_job(job, engine, progress=progress, heartbeat=lock.beat, **common)
        else:
            summary = run(list(paths), engine, kind=None if kind == "auto" else kind,
                          text_encoding=text_encoding, mapping_files=list(mapping_files),
                          progress=progress, heartbeat=lock.beat,
                          policy=load_policy(policy) if policy else None,
                          thresholds=Thresholds(link_threshold, review_threshold), **common)
    folder = summary_dir or (job.summary if job else None)
    if folder is not None:
        write_summary(summary, folder)
    render_summary(summary, as_json, obj.quiet)
    limit = job.max_reject_rate if job and job.max_reject_rate is not None else max_reject_rate
    if summary.read and summary.rejected / max(summary.read, 1) > limit:
        raise SystemExit(EXIT_REJECTS)


def _job_with_overrides(ctx: click.Context, config: Path, paths: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    """The job file with the options given on the command line laid over it."""
    from click.core import ParameterSource

    from etl.errors import UsageError
    from etl.job import load_job
    from etl.transform.validate import load_policy

    given = {name for name in ctx.params
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    if paths:
        raise UsageError("give PATHS or --config, not both",
                         hint="list every source in the job file's 'sources'")
    per_source = given & {"kind", "text_encoding", "mapping_files"}
    if per_source:
        option = "--" + sorted(per_source)[0].replace("_files", "").replace("_", "-")
        raise UsageError(f"{option} applies to PATHS; with --config set it per source in the "
                         "job file")
    job = load_job(config)
    overrides = {name: ctx.params[name] for name in
                 ("link_threshold", "review_threshold", "max_reject_rate") if name in given}
    if "policy" in given:
        overrides["policy"] = load_policy(ctx.params["policy"])
    if "summary_dir" in given:
        overrides["summary"] = ctx.params["summary_dir"]
    root = ctx.find_root()
    if root.get_parameter_source("db") == ParameterSource.COMMANDLINE:
        overrides["database"] = root.params["db"]
    return dataclasses.replace(job, **overrides)


def register(group: click.Group) -> None:
    for command in (extract_cmd, transform_cmd, match_cmd, load_cmd, run_cmd):
        group.add_command(command)
