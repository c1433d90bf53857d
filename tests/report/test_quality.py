"""`hssk report quality`: per file counts equal the database's, and no personal data leaks."""

from __future__ import annotations

import openpyxl
import sqlalchemy as sa


def test_quality_per_file_equals_database(district, engine, tmp_path, hssk_ok):
    hssk_ok("report", "quality", "-o", tmp_path / "a", db=district)
    hssk_ok("report", "quality", "-o", tmp_path / "b", db=district)
    for name in ("quality.html", "quality.xlsx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    wb = openpyxl.load_workbook(tmp_path / "a" / "quality.xlsx", read_only=True)
    assert wb.sheetnames[0] == "quality"
    values = list(wb["quality"].values)
    header = list(values[0])
    assert header[:3] == ["source_file", "kind", "batch_id"]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in values[1:]}

    with engine.connect() as conn:
        files = conn.execute(sa.text(
            "SELECT f.file_name, f.rows, f.text_encoding, "
            "(SELECT COUNT(*) FROM source_records r WHERE r.source_file_id = f.id) AS loaded, "
            "(SELECT COUNT(*) FROM rejects j WHERE j.file_sha256 = f.sha256 "
            " AND j.scope = 'record') AS rejected "
            "FROM source_files f")).mappings().all()
        open_pairs = conn.execute(sa.text(
            "SELECT COUNT(*) FROM match_reviews WHERE status = 'open'")).scalar_one()
        secrets = [r[0] for r in conn.execute(sa.text(
            "SELECT full_name FROM persons WHERE full_name LIKE '% % %'"))] + [
            r[0] for r in conn.execute(sa.text("SELECT value FROM person_identifiers"))]
    assert set(rows) == {f["file_name"] for f in files}
    for f in files:
        row = rows[f["file_name"]]
        assert row["rows_read"] == f["rows"]
        assert row["records_loaded"] == f["loaded"]
        assert row["rejected"] == f["rejected"]
        assert row["rows_read"] == row["records_loaded"] + row["rejected"]
        assert row["legacy_font"] == (f["text_encoding"] not in (None, "unicode"))
    assert any(r["legacy_font"] for r in rows.values())  # the samples' TCVN3 school workbook
    assert sum(r["rejected"] for r in rows.values()) >= 1

    extra = rows["registry_extra.csv"]
    assert extra["id_number_invalid"] == 1  # "0380"
    assert extra["id_number_inconsistent"] == 2  # year and sex disagree with the numbers
    assert extra["missing_commune"] == 1
    assert extra["year_only_birth"] == 1
    # each open pair is counted against the file of each of its two records
    assert open_pairs <= sum(r["open_review_pairs"] for r in rows.values()) <= 2 * open_pairs

    batches = list(wb["batches"].values)
    assert len(batches) == 3  # header + two runs
    for name in ("quality.html", "quality.xlsx"):
        text = (tmp_path / "a" / name).read_bytes()
        if name.endswith(".xlsx"):
            import zipfile

            with zipfile.ZipFile(tmp_path / "a" / name) as z:
                text = b"".join(z.read(n) for n in z.namelist())
        decoded = text.decode("utf-8", "replace")
        leaked = [s for s in secrets if s and s in decoded]
        assert not leaked, f"{name} shows personal data"
