"""The master index read back from the database: the read in slices of JSON arrays, each
fetched in a helper thread while the one before is decoded, gives the frame a plain query
gives, on SQLite and on PostgreSQL."""

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.load import master
from etl.load.master import MASTER_COLUMNS, read_master
from etl.pipeline import run


def _plain(engine: sa.Engine) -> pd.DataFrame:
    """The master columns by one ordinary query, in record-key order (code points)."""
    stored = [c for c in MASTER_COLUMNS if c != "file_key"]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {', '.join('r.' + c for c in stored)}, f.sha256 FROM source_records r "
            "JOIN source_files f ON f.id = r.source_file_id").all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[*stored, "file_key"], dtype=object)
    return frame.sort_values("record_key", key=lambda k: k.map(lambda v: v.encode()),
                             ignore_index=True)[MASTER_COLUMNS]


def _cells(frame: pd.DataFrame) -> list[list[object]]:
    """Every cell as a plain value, a missing one as None (a year is 1990, not 1990.0)."""
    out = []
    for column in MASTER_COLUMNS:
        values = frame[column].to_numpy(object)
        out.append([None if pd.isna(v) else int(v) if isinstance(v, float | np.integer)
                    else v for v in values])
    return out


def test_read_in_slices_is_the_plain_query(db, samples, monkeypatch):
    run([samples], db)
    # texts JSON must escape, and an empty one (not a missing one)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE source_records SET full_name = :v, phone = '' "
                             "WHERE id = (SELECT min(id) FROM source_records)"),
                     {"v": 'Lò "Văn" \\ A\nB\tC, D'})
    whole = read_master(db)
    assert len(whole) > 900
    assert _cells(whole) == _cells(_plain(db))
    # Slices of 97 records: a few dozen fetched ahead, in order, none lost or read twice.
    monkeypatch.setattr(master, "_READ_ROWS", 97)
    sliced = read_master(db)
    pd.testing.assert_frame_equal(sliced, whole)
    # A repeated text is one object however many slices it came through.
    for column in ("sex", "commune_code", "family_key"):
        values = sliced[column].dropna().to_numpy(object)
        assert len({id(v) for v in values}) == len(set(values))
