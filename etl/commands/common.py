"""What every command shares: the context object, shared options, progress and rendering."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import Engine

from etl.summary import RunSummary

log = logging.getLogger("etl.cli")


@dataclass
class Context:
    db: str | None
    verbosity: int
    quiet: bool

    def engine(self) -> Engine:
        from etl.load.db import connect

        return connect(self.db)


pass_context = click.make_pass_decorator(Context)


def output_dir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-o", "--output", "output", required=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Folder to write this stage's Parquet files into.")(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the summary as JSON instead of a table.")(f)


def source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--text-encoding", type=click.Choice(["unicode", "tcvn3", "vni", "viqr"]),
                     help="Force the font encoding of text instead of detecting it per sheet.")(f)
    f = click.option("--mapping", "mapping_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Extra mapping YAML (replaces the built-in one of the same kind).")(f)
    return f


def policy_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--policy", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="YAML of finding slug → reject|warn, overriding the default policy.")(f)


def threshold_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from etl.match.decide import LINK_THRESHOLD, REVIEW_THRESHOLD

    f = click.option("--review-threshold", type=float, default=REVIEW_THRESHOLD,
                     show_default=True,
                     help="Posterior log2-odds from which a pair goes to the review queue "
                          "(14.5 bits: probability 0.99996).")(f)
    f = click.option("--link-threshold", type=float, default=LINK_THRESHOLD, show_default=True,
                     help="Posterior log2-odds (evidence plus prior) from which two records "
                          "are linked without an identifier (16 bits: probability 0.99998).")(f)
    return f


class ProgressReporter:
    """A rich bar on a terminal; under cron (no terminal) one line on stderr a minute
    (``interval``), the first after a minute, so short runs print none; nothing with --quiet.
    ``lines=False`` keeps those lines off (with --json: cron mails stdout and stderr as one
    text, which must stay parseable). Every step also goes to the log file."""

    def __init__(self, quiet: bool, *, lines: bool = True, interval: float = 60.0) -> None:
        self.quiet = quiet
        self.lines = lines
        self.interval = interval
        self.bar: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.started = self.last_line = time.monotonic()

    def __enter__(self) -> ProgressReporter:
        if not self.quiet and sys.stderr.isatty():
            self.bar = Progress(TextColumn("{task.description:>9}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def __call__(self, stage: str, done: int, total: int) -> None:
        log.info("progress", extra={"stage": stage, "done": done, "total": total})
        if self.quiet:
            return
        if self.bar is None:
            now = time.monotonic()
            if self.lines and now - self.last_line >= self.interval:
                self.last_line = now
                minutes = int((now - self.started) // 60)
                click.echo(f"progress: {stage} {done}/{total} ({minutes} min)", err=True)
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


# per file: rows by outcome (these reconcile with read), then records no longer current and
# what matching did with the rows written
SUMMARY_COLUMNS = ("read", "created", "updated", "unchanged", "rejected", "problems", "structure",
                   "gone", "linked", "new_persons", "review")


def render_summary(summary: RunSummary, as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
        return
    if quiet:
        return
    console = Console() if sys.stdout.isatty() else Console(width=160)
    title = "dry run: nothing loaded" if summary.dry_run else f"batch {summary.batch_id}"
    table = Table(title=f"hssk {summary.command} — {title}")
    table.add_column("file", overflow="fold")
    table.add_column("kind")
    for col in SUMMARY_COLUMNS:
        table.add_column(col.replace("_", " "), justify="right")
    for f in summary.files:
        table.add_row(f.source_file, f.kind, *(str(getattr(f, col)) for col in SUMMARY_COLUMNS))
    console.print(table)
    console.print(
        f"persons created {summary.persons_created}, updated {summary.persons_updated}; "
        f"identifiers added {summary.identifiers_added}; rejects recorded {summary.rejects_added}; "
        f"pairs to review {summary.reviews_added}; "
        f"counts {'reconcile' if summary.reconciles else 'DO NOT reconcile'}")
    if summary.clinical_rows:
        console.print("clinical rows written: " + ", ".join(
            f"{name} {n}" for name, n in summary.clinical_rows.items()))
    if summary.rejects_by_reason:
        console.print("rejected by reason: " + ", ".join(
            f"{slug} {n}" for slug, n in summary.rejects_by_reason.items()))
    if summary.issues:
        console.print("findings: " + ", ".join(f"{slug} {n}" for slug, n in summary.issues.items()))
    for note in summary.notes[:20]:
        console.print(f"note: {note}")
    if summary.seconds:
        console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items())
                      + (f"; peak memory {summary.peak_memory_mb} MB"
                         if summary.peak_memory_mb else ""))
