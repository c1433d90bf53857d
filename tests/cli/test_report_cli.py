"""`hssk report …` and the new `hssk export …` commands as an operator meets them."""

from __future__ import annotations

import openpyxl
import pytest

from etl.cli import cli

NEW_COMMANDS = [("report",), ("report", "coverage"), ("report", "quality"),
                ("export", "fhir"), ("export", "persons")]
# The rows proposed for the README's command table, run like tests/cli/test_readme_examples.py.
README_EXAMPLES = [
    "hssk report coverage --as-of 2025-12-31 -o reports",
    "hssk report quality -o reports",
    "hssk export fhir -o fhir/",
    "hssk export persons -o persons.csv",
]


@pytest.mark.parametrize("path", NEW_COMMANDS, ids=" ".join)
def test_new_commands_have_help(runner, path):
    result = runner.invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    command = cli
    for name in path:
        command = command.commands[name]
    assert command.help and len(command.help) > 20
    if len(path) == 2:
        assert f"Example: hssk {' '.join(path)}" in command.help


def test_reports_on_an_empty_database(hssk, db_url, tmp_path):
    assert hssk("init", db=db_url).exit_code == 0
    result = hssk("report", "coverage", "-o", tmp_path, db=db_url)
    assert result.exit_code == 0, result.output
    assert "0 of 0 residents" in result.output
    ws = openpyxl.load_workbook(tmp_path / "coverage.xlsx", read_only=True).worksheets[0]
    assert [c.value for c in next(ws.iter_rows(max_row=1))][:3] == [
        "commune_code", "commune", "residents"]
    assert hssk("report", "quality", "-o", tmp_path, db=db_url).exit_code == 0
    assert hssk("export", "fhir", "-o", tmp_path / "fhir", db=db_url).exit_code == 0
    assert (tmp_path / "fhir" / "Patient.ndjson").read_text() == ""
    assert hssk("export", "persons", "-o", tmp_path / "p.csv", db=db_url).exit_code == 0


def test_pseudonyms_need_a_salt(hssk, tmp_path, monkeypatch):
    monkeypatch.delenv("HSSK_PSEUDONYM_SALT", raising=False)
    db = f"sqlite:///{tmp_path / 'hssk.db'}"
    hssk("init", db=db)
    result = hssk("export", "persons", "-o", tmp_path / "p.csv", "--pseudonymize", db=db)
    assert result.exit_code == 2
    assert "salt" in result.output and "Traceback" not in result.output
    result = hssk("export", "persons", "-o", tmp_path / "p.csv", "--pseudonymize",
                  "--salt", "s", "--show-ids", db=db)
    assert result.exit_code == 2
    assert not (tmp_path / "p.csv").exists()


def test_report_on_missing_schema_is_one_line(hssk, tmp_path):
    result = hssk("report", "coverage", "-o", tmp_path / "out",
                  db=f"sqlite:///{tmp_path / 'none.db'}")
    assert result.exit_code == 3
    assert "hssk init" in result.output and "Traceback" not in result.output


def test_readme_examples_of_the_new_commands(runner, samples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HSSK_DB", f"sqlite:///{tmp_path / 'hssk.db'}")
    for argv in (["init"], ["-q", "run", str(samples)]):
        assert runner.invoke(cli, argv, catch_exceptions=False).exit_code == 0
    for example in README_EXAMPLES:
        result = runner.invoke(cli, example.split()[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"{example}\n{result.output}"
    assert {p.name for p in (tmp_path / "reports").iterdir()} == {
        "coverage.html", "coverage.xlsx", "quality.html", "quality.xlsx"}
    assert (tmp_path / "fhir" / "Patient.ndjson").stat().st_size > 0
    assert (tmp_path / "persons.csv").stat().st_size > 0
