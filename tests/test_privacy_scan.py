"""Privacy by construction: the main commands, run with -vv and --log-file on a generated
district, never print or log an ID number, and never log a name.

Every console line (stdout and stderr) and every log-file line of every command is scanned for
every ID number of the district's files (personal ID, CMND, social-insurance code, insurance
card, as typed and as normalised) and every full name. The only lines allowed to show a name are
the stdout of ``inspect`` and ``explain``: showing a record to the operator at the screen is what
they are for (ID numbers stay masked there too). A failure names the command, channel, line and
kind of what leaked, never the value itself.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.extract import extract_files

ID_COLUMNS = ("personal_id", "cmnd", "id_document", "passport", "insurance_card",
              "social_insurance_code")
SHOWS_RECORDS = {"inspect", "explain"}  # stdout for the operator: names yes, ID numbers masked


def _pattern(values: set[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


def _secrets(folder: Path, db_url: str) -> tuple[set[str], set[str]]:
    """(ID numbers, full names) of the district: as typed in its files and as loaded."""
    records = extract_files([folder]).data.records
    ids = {str(v).strip() for c in ID_COLUMNS for v in records[c].dropna() if str(v).strip()}
    names = {str(v).strip() for v in records["full_name"].dropna() if str(v).strip()}
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        for row in conn.execute(sa.text(
                "SELECT full_name, personal_id, cmnd, passport, social_insurance_code, "
                "insurance_cards FROM source_records")):
            names.add(row.full_name or "")
            ids.update(v for v in (row.personal_id, row.cmnd, row.passport,
                                   row.social_insurance_code) if v)
            ids.update(re.findall(r"[A-Z]{2}\d{13}", row.insurance_cards or ""))
        names.update(conn.execute(sa.text("SELECT full_name FROM persons")).scalars())
    engine.dispose()
    ids = {i for i in ids if len(i) >= 8}  # ID numbers are 9-15 characters
    names = {n for n in names if len(n) >= 4}
    assert len(ids) > 300 and len(names) > 250  # the scan has something to find
    return ids, names


def _leaks(lines: list[str], pattern: re.Pattern[str]) -> list[int]:
    return [n for n, line in enumerate(lines, 1) if pattern.search(line)]


def test_no_id_number_or_name_in_console_or_log(hssk, tmp_path: Path) -> None:
    district = tmp_path / "district"
    assert hssk("samples", "-o", str(district), "--people", "300", "--seed", "5").exit_code == 0
    db_url = f"sqlite:///{tmp_path / 'hssk.db'}"
    log = tmp_path / "hssk.jsonl"
    out = tmp_path / "out"
    registry_csv = next(district.glob("registry_*.csv"))
    workbook = next(district.glob("bhxh_*.xlsx"))
    outputs: list[tuple[str, str, str]] = []  # (command, channel, text)

    def run(*args: str) -> None:
        result = hssk("-vv", "--log-file", str(log), *args, db=db_url)
        assert result.exit_code in (0, 1), f"{args[:2]} exited {result.exit_code}"
        outputs.append((" ".join(args[:2]), "stdout", result.stdout))
        outputs.append((" ".join(args[:2]), "stderr", result.stderr))

    run("init")
    run("run", str(district))
    run("export", "links", "-o", str(out / "links.csv"))
    run("export", "review", "-o", str(out / "review.csv"))
    run("export", "persons", "-o", str(out / "persons.csv"))
    run("inspect", str(registry_csv))
    run("inspect", str(workbook))
    with open(out / "links.csv", encoding="utf-8-sig", newline="") as fh:
        links = list(csv.DictReader(fh))
    first, second = (f"{r['source_file']}:{r['locator']}" for r in links[:2])
    run("explain", first, second)
    run("explain", "--person", links[0]["person_id"])
    run("report", "quality", "-o", str(out / "reports"))

    ids, names = _secrets(district, db_url)
    id_pattern, name_pattern = _pattern(ids), _pattern(names)
    found = []
    for command, channel, text in outputs:
        lines = text.splitlines()
        found += [f"{command} {channel} line {n}: ID number" for n in _leaks(lines, id_pattern)]
        if not (channel == "stdout" and command.split()[0] in SHOWS_RECORDS):
            found += [f"{command} {channel} line {n}: name" for n in _leaks(lines, name_pattern)]
    log_lines = log.read_text(encoding="utf-8").splitlines()
    assert len(log_lines) > 10
    found += [f"log file line {n}: ID number" for n in _leaks(log_lines, id_pattern)]
    found += [f"log file line {n}: name" for n in _leaks(log_lines, name_pattern)]
    assert not found, "personal data leaked (values withheld): " + "; ".join(found[:20])


@pytest.mark.parametrize("verbosity", [[], ["-vv"]])
def test_database_password_is_never_shown(hssk, tmp_path: Path, verbosity) -> None:
    log = tmp_path / "hssk.jsonl"
    url = "postgresql://user:secret@127.0.0.1:1/x"
    for args in (["init"], ["export", "links", "-o", str(tmp_path / "l.csv")]):
        try:
            result = hssk(*verbosity, "--log-file", str(log), *args, db=url)
            text = result.output + (result.stderr or "")
        except Exception as exc:  # noqa: BLE001 - with -vv the CLI re-raises the typed error
            text = str(exc) + repr(exc.__cause__)
        assert "cannot reach database" in text or "secret" not in text
        assert "secret" not in text, f"{args[0]}: the password was shown"
        assert "user:***@" in text or not text.strip() or "error" not in text
    assert "secret" not in (log.read_text(encoding="utf-8") if log.exists() else "")


def test_log_lines_are_scrubbed() -> None:
    from etl.logs import scrub

    line = "pid 038306993811 card HN1383814583941 si 3842548945 postgresql://u:pw@h/db"
    scrubbed = scrub(line)
    for secret in ("038306993811", "HN1383814583941", "3842548945", ":pw@"):
        assert secret not in scrubbed
    kept = "batch 12 sha 3f12345678901234 record registry:0123456789abcdef:row=1 took 0.123456789s"
    assert scrub(kept) == kept
