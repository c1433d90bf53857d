"""`hssk run --config job.yaml`: the job file validated key by key, options overriding it, and
the example job file running against the bundled samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.load.db import connect

ROOT = Path(__file__).resolve().parents[2]
KNOWN = ("known keys: database, sources, link_threshold, review_threshold, policy, "
         "max_reject_rate, summary")
SOURCE_KNOWN = "known keys: path, kind, mapping, text_encoding, feed, snapshot"
ONE = "sources:\n  - path: inbox\n"


@pytest.mark.parametrize(("text", "lines"), [
    ("sourcse:\n  - path: inbox\n", ["error: job.yaml: unknown key 'sourcse'", f"hint: {KNOWN}"]),
    ("sources:\n  - path: inbox\n    snapshoot: true\n",
     ["error: job.yaml: sources[0]: unknown key 'snapshoot'", f"hint: {SOURCE_KNOWN}"]),
    ("database: sqlite:///x.db\n",
     ["error: job.yaml: sources: give a list of at least one source (each with a 'path')"]),
    ("sources:\n  - kind: registry\n", ["error: job.yaml: sources[0]: path: give a folder, "
                                        "file or glob"]),
    ("sources:\n  - path: inbox\n    snapshot: true\n",
     ["error: job.yaml: sources[0]: snapshot: true needs a feed name (feed: registry)",
      "hint: records of a snapshot feed are keyed within the feed"]),
    ("sources:\n  - path: inbox\n    snapshot: yes please\n    feed: r\n",
     ["error: job.yaml: sources[0]: snapshot: expected true or false, got 'yes please'"]),
    ("sources:\n  - path: inbox\n    feed: a b\n",
     ["error: job.yaml: sources[0]: feed: a short name of letters, digits, '.', '_' or '-', "
      "got 'a b'"]),
    ("sources:\n  - path: a\n    feed: r\n  - path: b\n    feed: r\n",
     ["error: job.yaml: sources: feed 'r' is named by two sources; a feed is one source's files"]),
    ("sources:\n  - path: inbox\n    text_encoding: latin1\n",
     ["error: job.yaml: sources[0]: text_encoding: expected one of unicode, tcvn3, vni, viqr, "
      "got 'latin1'"]),
    (ONE + "max_reject_rate: 2\n",
     ["error: job.yaml: max_reject_rate: expected a share between 0 and 1, got 2"]),
    (ONE + "link_threshold: high\n",
     ["error: job.yaml: link_threshold: expected a number of bits, got 'high'"]),
    (ONE + "link_threshold: 8\nreview_threshold: 12\n",
     ["error: job.yaml: review_threshold: must not be above link_threshold"]),
    (ONE + "policy:\n  no-such-finding: reject\n",
     ["error: job.yaml: policy: unknown finding 'no-such-finding'"]),
    (ONE + "policy:\n  unknown-commune: drop\n",
     ["error: job.yaml: policy: unknown-commune: expected 'reject' or 'warn', got 'drop'"]),
    (ONE + "summary: 3\n",
     ["error: job.yaml: summary: expected a folder to write batch-<id>.json into"]),
    ("sources: [\n", None),
])
def test_job_file_errors_are_one_line_naming_the_key(hssk, tmp_path, text, lines):
    job = tmp_path / "job.yaml"
    job.write_text(text, encoding="utf-8")
    result = hssk("run", "--config", job, db=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 2
    if lines is None:
        assert result.output.startswith(f"error: {job}: line 2 not valid YAML")
        assert len(result.output.splitlines()) == 1
    elif "unknown finding" in lines[0]:
        assert result.output.splitlines()[0] == lines[0]
        assert result.output.splitlines()[1].startswith("hint: known: ambiguous-birth-date, ")
    else:
        assert result.output.splitlines() == lines


def test_unknown_kind_lists_the_known_ones(hssk, tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("sources:\n  - path: inbox\n    kind: census\n", encoding="utf-8")
    result = hssk("run", "--config", job)
    assert (result.exit_code, result.output.splitlines()) == (2, [
        "error: job.yaml: sources[0]: kind: unknown kind 'census'",
        "hint: known: auto, adult-exam, clinic-xml, immunization, insurance, registry, "
        "school-exam"])


@pytest.mark.parametrize(("args", "line"), [
    (["inbox"], "error: give PATHS or --config, not both"),
    (["--kind", "registry"], "error: --kind applies to PATHS; with --config set it per source "
                             "in the job file"),
])
def test_paths_and_source_options_do_not_mix_with_a_job(hssk, tmp_path, args, line):
    job = tmp_path / "job.yaml"
    job.write_text(ONE, encoding="utf-8")
    result = hssk("run", "--config", job, *args)
    assert (result.exit_code, result.output.splitlines()[0]) == (2, line)


def test_missing_job_file_and_missing_source(hssk, tmp_path):
    result = hssk("run", "--config", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: cannot read job file {tmp_path / 'nope.yaml'}: ")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert hssk("init", db=url).exit_code == 0
    job = tmp_path / "job.yaml"
    job.write_text(f"database: {url}\nsources:\n  - path: inbox/*.csv\n", encoding="utf-8")
    result = hssk("run", "--config", job)
    assert (result.exit_code, result.output.splitlines()) == (3, [
        "error: inbox/*.csv: no file matches", "hint: check the source's path in the job file"])
    assert hssk("run", db=url).output.splitlines() == [
        "error: give PATHS (files or folders) or --config job.yaml"]


REGISTRY = ("STT,Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
            "1,038062001234,Giàng A Páo,1962,Nam\n"
            "2,038165004321,Lò Thị Hương,31/02/65,Nữ\n")


def test_command_line_options_override_the_job_file(hssk, tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "dan_cu.csv").write_text(REGISTRY, encoding="utf-8")
    in_file, given = tmp_path / "file.db", tmp_path / "given.db"
    for path in (in_file, given):
        assert hssk("init", db=f"sqlite:///{path}").exit_code == 0
    job = tmp_path / "job.yaml"
    job.write_text(f"database: sqlite:///{in_file}\n"
                   "sources:\n  - path: inbox\n    kind: registry\n"
                   "max_reject_rate: 0.1\nsummary: from-file\n", encoding="utf-8")
    # half the rows rejected: above the file's 10 %, not above the command line's 60 %
    assert hssk("-q", "run", "--config", job).exit_code == 1
    result = hssk("--db", f"sqlite:///{given}", "run", "--config", job, "--max-reject-rate",
                  "0.6", "--summary", tmp_path / "from-option", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["database"] == f"sqlite:///{given}"
    written = json.loads((tmp_path / "from-option" / f"batch-{summary['batch_id']}.json")
                         .read_text(encoding="utf-8"))
    assert written == summary
    assert [p.name for p in (tmp_path / "from-file").iterdir()] == ["batch-1.json"]
    for path, batches in ((in_file, 1), (given, 1)):
        engine = connect(f"sqlite:///{path}")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM batches")).scalar() == batches
        engine.dispose()


def test_the_example_job_runs_on_the_samples(hssk, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data" / "samples", tmp_path / "data" / "samples")
    shutil.copy(ROOT / "data" / "job.example.yaml", tmp_path / "data" / "job.example.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HSSK_DB", raising=False)
    assert hssk("init").exit_code == 0
    first = hssk("run", "--config", "data/job.example.yaml", "--json")
    assert first.exit_code == 0, first.output
    one = json.loads(first.output)
    assert one["database"] == "sqlite:///hssk.db" and one["reconciles"]
    assert one["read"] == sum(f["created"] + f["rejected"] for f in one["files"]) > 2000
    assert {f["kind"] for f in one["files"]} == {"registry", "insurance", "school-exam",
                                                 "immunization", "clinic-xml"}
    again = json.loads(hssk("run", "--config", "data/job.example.yaml", "--json").output)
    assert (again["persons_created"], again["persons_updated"], again["gone"],
            sum(f["created"] + f["updated"] for f in again["files"])) == (0, 0, 0, 0)
    assert sorted(p.name for p in (tmp_path / "summaries").iterdir()) == sorted(
        f"batch-{b}.json" for b in (one["batch_id"], again["batch_id"]))
