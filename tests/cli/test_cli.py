"""The `hssk` command driven like an operator would, against real files and databases."""

import csv
import json
import re
from pathlib import Path

import click
import pytest

from etl.cli import cli
from etl.extract import extract_files

README = Path(__file__).resolve().parents[2] / "README.md"


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_and_a_readme_section():
    readme = README.read_text(encoding="utf-8")
    for path, command in all_commands(cli):
        assert command.help and len(command.help) > 20, path
        assert f"hssk {' '.join(path)}" in readme, f"README lacks `hssk {' '.join(path)}`"


def test_run_then_export_links(hssk, samples, tmp_path, db_url):
    hssk("init", db=db_url)
    result = hssk("run", samples, db=db_url)
    assert result.exit_code == 0, result.output
    assert "counts reconcile" in result.output
    out = tmp_path / "links.csv"
    result = hssk("export", "links", "-o", out, db=db_url)
    assert result.exit_code == 0
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["person_id"] for r in rows)
    assert any(re.fullmatch(r"row=\d+", r["locator"]) for r in rows)
    assert any(re.fullmatch(r"[^!]+!\d+", r["locator"]) for r in rows)


def test_db_from_environment(runner, samples, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("HSSK_DB", url)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_dry_run_writes_nothing(hssk, samples, tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    hssk("init", db=url)
    result = hssk("run", samples, "--dry-run", "--json", db=url)
    assert json.loads(result.output)["dry_run"] is True
    result = hssk("export", "links", "-o", tmp_path / "l.csv", db=url)
    assert (tmp_path / "l.csv").read_text(encoding="utf-8").strip() == "source_file,locator,person_id"


def test_missing_source_is_one_line_and_exit_3(hssk, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    hssk("init", db=url)
    result = hssk("run", tmp_path / "nope.csv", db=url)
    assert result.exit_code == 3
    assert "no such file" in result.output and "Traceback" not in result.output


def test_uninitialised_database_says_how_to_fix(hssk, samples, tmp_path):
    result = hssk("run", samples, db=f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 3
    assert "hssk init" in result.output


def test_unreachable_database_is_exit_3(hssk, tmp_path):
    result = hssk("init", db="postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 3
    assert "cannot reach database" in result.output
    assert "Traceback" not in result.output


def test_bad_option_is_exit_2(hssk, samples):
    result = hssk("run", samples, "--kind", "nonsense")
    assert result.exit_code == 2


def test_rejects_above_threshold_exit_1(hssk, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    hssk("init", db=url)
    path = tmp_path / "bad.csv"
    path.write_text("Họ và tên,Ngày sinh,Số CCCD\nGiàng A Páo,31/02/62,038062001234\n"
                    "Lò Thị Hương,1965,038165004321\n", encoding="utf-8")
    result = hssk("run", path, db=url)
    assert result.exit_code == 1
    assert "invalid-birth-date 1" in result.output
    assert "Giàng" not in result.output and "038062001234" not in result.output


def test_log_file_has_no_personal_data(runner, samples, tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    log = tmp_path / "run.jsonl"
    runner.invoke(cli, ["--db", url, "init"])
    result = runner.invoke(cli, ["--db", url, "--log-file", str(log), "-v", "run", str(samples)])
    assert result.exit_code == 0
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert any(x.get("stage") == "load" for x in lines)
    text = log.read_text(encoding="utf-8")
    assert not re.search(r"\b0\d{11}\b", text)
    names = extract_files([samples]).data.records["full_name"].dropna()
    assert not any(name in text for name in names)


def test_samples_are_reproducible(hssk, tmp_path):
    assert hssk("samples", "-o", tmp_path / "a", "--people", "50", "--seed", "3").exit_code == 0
    hssk("samples", "-o", tmp_path / "b", "--people", "50", "--seed", "3")
    for path in (tmp_path / "a").rglob("*.csv"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    assert (tmp_path / "a" / "_truth" / "ground_truth.csv").exists()


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["export", "links", "--help"]])
def test_help(hssk, args):
    result = hssk(*args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_forced_kind_reads_a_minimal_file_and_policy_can_reject(hssk, tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    hssk("init", db=url)
    path = tmp_path / "minimal.csv"
    path.write_text("Họ và tên,Năm sinh\nGiàng A Páo,1962\nLò Thị Hương,1965\n", encoding="utf-8")
    result = hssk("run", path, "--kind", "registry", "--json", db=url)
    assert json.loads(result.output)["files"][0]["created"] == 2
    policy = tmp_path / "policy.yaml"
    policy.write_text("missing-birth-date: reject\n", encoding="utf-8")
    other = tmp_path / "no_dates.csv"
    other.write_text("Họ và tên,Năm sinh\nVàng Thị Mỷ,\n", encoding="utf-8")
    result = hssk("run", other, "--kind", "registry", "--policy", policy, "--json", db=url)
    assert result.exit_code == 1
    assert json.loads(result.output)["rejects_by_reason"] == {"missing-birth-date": 1}
