"""The nightly job file: what ``hssk run --config job.yaml`` loads, validated in one place.

A job names the database, the sources (each a folder, file or glob with its kind, mapping, font
encoding, feed name and whether its files are full snapshots), the matching thresholds, the
reject policy, the reject rate that makes the run exit 1, and the folder summaries go to::

    database: sqlite:///hssk.db
    sources:
      - path: inbox/registry/*.csv
        kind: registry
        feed: registry
        snapshot: true
      - path: inbox/clinic/
    summary: summaries/

Relative paths are relative to the job file's folder. Every problem is one line naming the key
(exit code 2); unknown keys are refused, so a typo never silently does nothing.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from etl.errors import SourceError, UsageError

JOB_KEYS = ("database", "sources", "link_threshold", "review_threshold", "policy",
            "max_reject_rate", "summary")
SOURCE_KEYS = ("path", "kind", "mapping", "text_encoding", "feed", "snapshot")
TEXT_ENCODINGS = ("unicode", "tcvn3", "vni", "viqr")
_FEED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(UsageError):
    """A job file that does not validate (exit code 2)."""


@dataclass
class Source:
    """One source entry: which files, read how, and whether they are full snapshots of a feed.

    A *snapshot* feed's files are full extracts (the monthly registry): together, the files the
    entry finds in a run are the feed's current extract, records are keyed by business key
    within the feed instead of per file, and records the extract no longer holds are marked no
    longer current.
    """

    path: str
    kind: str | None = None  # None: detected from each file's content
    mapping: Path | None = None
    text_encoding: str | None = None
    feed: str | None = None
    snapshot: bool = False
    base: Path = field(default_factory=Path)  # the folder relative paths start from

    def files(self) -> list[Path]:
        """The folder, file or files of a glob this entry names, as found now."""
        target = Path(self.path).expanduser()
        if not target.is_absolute():
            target = self.base / target
        if glob.has_magic(str(target)):
            found = sorted(Path(p) for p in glob.glob(str(target), recursive=True))
            if not found:
                raise SourceError(f"{self.path}: no file matches",
                                  hint="check the source's path in the job file")
            return found
        if not target.exists():
            raise SourceError(f"{self.path}: no such file or folder")
        return [target]


@dataclass
class Job:
    """A validated job file; ``None`` fields fall back to the command's defaults."""

    sources: list[Source]
    database: str | None = None
    link_threshold: float | None = None
    review_threshold: float | None = None
    policy: dict[str, str] | None = None
    max_reject_rate: float | None = None
    summary: Path | None = None
    path: Path | None = None


def load_job(path: Path) -> Job:
    """Read and validate a job file (see the module docstring); raises :class:`ConfigError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read job file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML: "
                          f"{getattr(exc, 'problem', None) or exc}") from exc
    name = path.name

    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{name}: {message}", hint=hint)

    if not isinstance(data, dict):
        raise fail("a job file is a mapping with 'database', 'sources' and options",
                   hint="see data/job.example.yaml")
    _refuse_unknown(data, JOB_KEYS, "", fail)
    base = path.parent.resolve()
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise fail("sources: give a list of at least one source (each with a 'path')")
    sources = [_source(entry, i, base, fail) for i, entry in enumerate(raw_sources)]
    feeds = [s.feed for s in sources if s.feed]
    if dup := next((f for f in feeds if feeds.count(f) > 1), None):
        raise fail(f"sources: feed {dup!r} is named by two sources; a feed is one source's files")
    job = Job(sources=sources, path=path)
    if "database" in data:
        if not isinstance(data["database"], str) or not data["database"].strip():
            raise fail("database: expected a database URL such as sqlite:///hssk.db")
        job.database = data["database"].strip()
    for key in ("link_threshold", "review_threshold"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(f"{key}: expected a number of bits, got {value!r}")
            setattr(job, key, float(value))
    if (job.link_threshold is not None and job.review_threshold is not None
            and job.review_threshold > job.link_threshold):
        raise fail("review_threshold: must not be above link_threshold")
    if "max_reject_rate" in data:
        value = data["max_reject_rate"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise fail(f"max_reject_rate: expected a share between 0 and 1, got {value!r}")
        job.max_reject_rate = float(value)
    if "policy" in data:
        job.policy = _policy(data["policy"], base, fail)
    if "summary" in data:
        if not isinstance(data["summary"], str) or not data["summary"].strip():
            raise fail("summary: expected a folder to write batch-<id>.json into")
        job.summary = _relative(data["summary"], base)
    return job


def _refuse_unknown(data: dict, known: tuple[str, ...], where: str, fail) -> None:  # type: ignore[no-untyped-def]
    for key in data:
        if key not in known:
            raise fail(f"{where}unknown key {key!r}", hint="known keys: " + ", ".join(known))


def _relative(value: str, base: Path) -> Path:
    target = Path(value).expanduser()
    return target if target.is_absolute() else base / target


def _source(entry: object, i: int, base: Path, fail) -> Source:  # type: ignore[no-untyped-def]
    where = f"sources[{i}]: "
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        raise fail(f"{where}expected a mapping with a 'path', got {entry!r}")
    _refuse_unknown(entry, SOURCE_KEYS, where, fail)
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip():
        raise fail(f"{where}path: give a folder, file or glob")
    source = Source(path=path.strip(), base=base)
    if "mapping" in entry:
        if not isinstance(entry["mapping"], str):
            raise fail(f"{where}mapping: expected the path of a mapping YAML")
        source.mapping = _relative(entry["mapping"], base)
        if not source.mapping.is_file():
            raise fail(f"{where}mapping: no such file {entry['mapping']}")
    kind = entry.get("kind", "auto")
    known = _known_kinds(source.mapping)
    if kind not in ("auto", *known):
        raise fail(f"{where}kind: unknown kind {kind!r}", hint="known: auto, " + ", ".join(known))
    source.kind = None if kind == "auto" else kind
    if "text_encoding" in entry:
        if entry["text_encoding"] not in TEXT_ENCODINGS:
            raise fail(f"{where}text_encoding: expected one of {', '.join(TEXT_ENCODINGS)}, "
                       f"got {entry['text_encoding']!r}")
        source.text_encoding = entry["text_encoding"]
    if "feed" in entry:
        feed = entry["feed"]
        if not isinstance(feed, str) or not _FEED.match(feed):
            raise fail(f"{where}feed: a short name of letters, digits, '.', '_' or '-', "
                       f"got {feed!r}")
        source.feed = feed
    if "snapshot" in entry:
        if not isinstance(entry["snapshot"], bool):
            raise fail(f"{where}snapshot: expected true or false, got {entry['snapshot']!r}")
        source.snapshot = entry["snapshot"]
    if source.snapshot and not source.feed:
        raise fail(f"{where}snapshot: true needs a feed name (feed: registry)",
                   hint="records of a snapshot feed are keyed within the feed")
    return source


def _known_kinds(mapping: Path | None) -> list[str]:
    from etl.extract import clinic_xml
    from etl.extract.mapping import mappings_for

    return sorted({*mappings_for([mapping] if mapping else None), clinic_xml.KIND})


def _policy(value: object, base: Path, fail) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from etl.transform.validate import DEFAULT_POLICY, REJECT, WARN, load_policy

    if isinstance(value, str):
        target = _relative(value, base)
        if not target.is_file():
            raise fail(f"policy: no such file {value}")
        try:
            return load_policy(target)
        except UsageError as exc:
            raise fail(f"policy: {exc}", hint=exc.hint) from exc
    if not isinstance(value, dict):
        raise fail("policy: a policy file's path or a mapping of finding slug → reject|warn")
    policy = dict(DEFAULT_POLICY)
    for slug, action in value.items():
        if slug not in DEFAULT_POLICY:
            raise fail(f"policy: unknown finding {slug!r}",
                       hint="known: " + ", ".join(sorted(DEFAULT_POLICY)))
        if action not in (REJECT, WARN):
            raise fail(f"policy: {slug}: expected 'reject' or 'warn', got {action!r}")
        policy[slug] = action
    return policy
