"""Stage folders: the Parquet files one stage writes and the next reads.

Every stage writes a folder a person can open (``files``, ``records``, ``rejects`` and, later,
clinical side tables) plus ``manifest.json`` naming the stage, so a crashed or suspicious run
leaves something to inspect and a stage can refuse a folder written for another one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl.errors import StageError

PROVENANCE_COLUMNS = [
    "source_kind", "source_file", "file_sha256", "locator", "sheet", "row_number",
    "record_key", "record_hash",
]
# The one staged-record shape every extractor produces (values as text, exactly as typed).
IDENTITY_COLUMNS = [
    "full_name", "birth_date", "sex", "personal_id", "cmnd", "passport", "id_document",
    "insurance_card", "social_insurance_code", "ethnicity", "religion", "nationality",
    "occupation", "permanent_address", "current_address", "commune_code", "district_code",
    "province_code", "village",
    "household_code", "household_head", "relation_to_head", "father_name", "mother_name",
    "phone", "email", "facility_code", "facility_patient_id",
]
# sheet_title: the title rows above a sheet's table (JSON list of cell texts), which often name
# the commune of rows that do not say their own; transform reads it, it is not loaded.
RECORD_COLUMNS = PROVENANCE_COLUMNS + IDENTITY_COLUMNS + ["sheet_title", "extra", "raw"]
# scope: "record" (the row or episode did not load), "part" (it loaded without a broken part,
# such as an undecodable lab table) or "file" (the file, or its unreadable tail, did not load).
REJECT_COLUMNS = ["source_file", "file_sha256", "locator", "stage", "scope", "slug", "field",
                  "message", "raw"]
# rows: data rows read (each loaded or rejected); structure_rows: rows of form structure
# (sections, sub-totals, column numbers, formula-only rows) skipped, never people.
FILE_COLUMNS = ["source_file", "path", "file_sha256", "kind", "size_bytes", "encoding",
                "text_encoding", "reader", "rows", "structure_rows"]


@dataclass
class StageData:
    """The tables a stage hands on. ``tables`` holds clinical side tables by name."""

    stage: str
    files: pd.DataFrame
    records: pd.DataFrame
    rejects: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    issues: pd.DataFrame | None = None
    meta: dict[str, object] = field(default_factory=dict)


def concat_stages(stages: list[StageData]) -> StageData:
    """Stages of consecutive inputs as one (tables concatenated in order, notes joined)."""
    if len(stages) == 1:
        return stages[0]
    first = stages[0]

    def cat(frames: list[pd.DataFrame | None]) -> pd.DataFrame | None:
        kept = [f for f in frames if f is not None and len(f)]
        if not kept:
            return next((f for f in frames if f is not None), None)
        return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]

    names = list(dict.fromkeys(n for st in stages for n in st.tables))
    meta = dict(first.meta)
    meta["notes"] = [n for st in stages for n in st.meta.get("notes", [])]
    return StageData(first.stage, cat([st.files for st in stages]),  # type: ignore[arg-type]
                     cat([st.records for st in stages]),  # type: ignore[arg-type]
                     cat([st.rejects for st in stages]),  # type: ignore[arg-type]
                     {n: cat([st.tables.get(n) for st in stages]) for n in names},  # type: ignore[misc]
                     cat([st.issues for st in stages]), meta)


def stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)`` for frames of the same columns, column by
    column: a column of one dtype in every frame is joined by NumPy, one whose dtype differs
    between frames by pandas as a Series. (One case differs: a frame concat passes over an
    all-missing object column when it settles the dtype of a typed one, a Series concat gives
    objects. The identity frames of a run never give it: their typed columns are typed in
    every chunk.) The columns stay apart (one block each):
    gathering a million records' object columns into one block copied and counted every
    reference again, 1.5 of the 2.3 s pandas took for a run's identity frames, and a column
    deleted from a frame handed over (``consume``) frees its memory at once."""
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    columns = frames[0].columns
    out = {}
    for c in columns:
        parts = [f[c] for f in frames]
        if all(p.dtype == parts[0].dtype and isinstance(p.dtype, np.dtype) for p in parts):
            out[c] = np.concatenate([p.to_numpy() for p in parts])
        else:
            out[c] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out, columns=columns, copy=False)


# Arrow buffers held for a while (packed frames): the C library's allocator, see :func:`packed`.
HEAP_POOL = pa.system_memory_pool()


@dataclass
class Packed:
    """A frame held until it is needed without a Python object per cell: its text columns as
    Arrow strings (one buffer each), the rest as they are. A run holds every chunk's identity
    frame from its first extract to its match; as objects, the strings of a province's 3.7
    million record keys, ID numbers and phones were allocated amid each chunk's short-lived
    objects, and the heap they pinned was a third of what the match began with."""

    columns: dict[str, pa.Array | pd.Series]
    rows: int

    def __len__(self) -> int:
        return self.rows


def packed(frame: pd.DataFrame) -> Packed:
    """``frame``'s columns packed (:class:`Packed`); a column of objects that are not all
    texts (or missing) stays as it is. The buffers come from the C library's allocator, not
    Arrow's own (mimalloc), which kept what a run's unpacked frames had freed: 190 MB more at
    a 1 M registry's match (``malloc_trim`` hands the C heap's back, see
    :func:`etl.match.engine.release_freed_memory`)."""
    columns: dict[str, pa.Array | pd.Series] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            try:
                columns[name] = pa.array(column.to_numpy(object), type=pa.string(),
                                         from_pandas=True, memory_pool=HEAP_POOL)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
        columns[name] = column.reset_index(drop=True)
    return Packed(columns, len(frame))


def unpacked(parts: list[Packed], shared_columns: Collection[str] = ()) -> pd.DataFrame:
    """The packed frames one under the other as one frame (what :func:`stacked` makes of the
    frames themselves): texts as objects, ``None`` where missing, one object per distinct text
    in ``shared_columns``. Each column is taken out of the parts as it is made, so the run's
    strings are made together, once every chunk's short-lived objects are gone."""
    if not parts:
        return pd.DataFrame()
    names = list(parts[0].columns)
    out = pd.DataFrame(index=pd.RangeIndex(sum(len(p) for p in parts)))
    for name in names:
        pieces = [p.columns.pop(name) for p in parts]
        if all(isinstance(x, pa.Array) for x in pieces):
            out[name] = pd.Series(pa.chunked_array(pieces, type=pa.string()).to_pandas(
                memory_pool=HEAP_POOL, deduplicate_objects=name in shared_columns
            ).to_numpy(object), index=out.index, dtype=object, copy=False)
            continue
        column = stacked([pd.DataFrame({name: x.to_pandas().astype(object)
                                        if isinstance(x, pa.Array) else x}) for x in pieces])[name]
        if column.dtype == object and name in shared_columns:
            column = pd.Series(shared(column), dtype=object)
        out[name] = column.set_axis(out.index)
    return out


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _write_table(df: pd.DataFrame, path: Path, compression: str) -> None:
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    pq.write_table(table, path, compression=compression)


def write_stage(data: StageData, directory: Path, *, compression: str = "zstd") -> Path:
    """Write ``data`` to ``directory`` (created if needed), replacing an earlier stage there.
    ``compression``: zstd keeps a stage folder small; a run's own spill, read back within
    minutes and deleted, takes lz4, which writes in about half zstd's time."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    _write_table(data.files, directory / "files.parquet", compression)
    _write_table(data.records, directory / "records.parquet", compression)
    _write_table(data.rejects, directory / "rejects.parquet", compression)
    if data.issues is not None:
        _write_table(data.issues, directory / "issues.parquet", compression)
    for name, df in data.tables.items():
        _write_table(df, directory / f"table_{name}.parquet", compression)
    manifest = {
        "stage": data.stage,
        "records": len(data.records),
        "rejects": len(data.rejects),
        "tables": sorted(data.tables),
        "meta": data.meta,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                             encoding="utf-8")
    return directory


def read_stage(directory: Path, expect: str) -> StageData:
    """Read a stage folder, refusing one written by a different stage than ``expect``."""
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        raise StageError(f"{directory} is not a stage folder (no manifest.json)",
                         hint=f"pass the folder written by `hssk {expect}`")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("stage") != expect:
        raise StageError(
            f"{directory} holds the output of `{manifest.get('stage')}`, expected `{expect}`",
            hint=f"pass the folder written by `hssk {expect}`",
        )

    def load(name: str) -> pd.DataFrame:
        # Integers with gaps come back as integers and None, as they were written — not as
        # floats (1.0 into an INTEGER column is refused by PostgreSQL's COPY).
        return pq.read_table(directory / f"{name}.parquet").to_pandas(integer_object_nulls=True)

    tables = {name: load(f"table_{name}") for name in manifest.get("tables", [])}
    issues = load("issues") if (directory / "issues.parquet").exists() else None
    return StageData(expect, load("files"), load("records"), load("rejects"), tables, issues,
                     manifest.get("meta", {}))


def value(v: object) -> object:
    """A cell as a plain Python value: pandas/NumPy missing markers and NaN become ``None``.

    pandas 3 reads text columns as a string dtype whose missing value is NaN, which is truthy;
    every consumer of stage tables goes through this instead of testing cells directly.
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "item") and not isinstance(v, str):
        return v.item()
    return v


def records_as_dicts(df: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts of plain values (``None`` for missing), for row-wise logic."""
    objects = as_objects(df)
    names = list(objects.columns)
    columns = [objects[c].tolist() for c in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def as_objects(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with object columns whose missing cells are ``None`` (see :func:`value`)."""
    arrays = []
    for k in range(df.shape[1]):
        column = df.iloc[:, k]
        values = column.to_numpy(object)
        missing = column.isna().to_numpy()
        if missing.any():
            values = values.copy()  # an object column hands out its own array
            values[missing] = None
        arrays.append(values)
    # Column by column: frame-wide astype and where copy every cell twice.
    out = pd.DataFrame(dict(enumerate(arrays)), index=df.index, dtype=object)
    out.columns = df.columns
    return out


def key_in(series: pd.Series, keys: Collection[object]) -> pd.Series:
    """``series.isin(keys)`` for columns of record keys. pandas' string dtype turns every key
    into an Arrow scalar first — seconds per chunk with tens of thousands of keys — where
    object values are simply hashed. Keys already in a set or dict are looked up there, value
    by value: ``isin`` hashes every key again into a table of its own. For a chunk's 25,000
    keys against a run's 4,193 review pairs, lookups took 0.13-0.17x the time
    (benchmarks/bench_key_in.py)."""
    if isinstance(keys, (set, frozenset, dict)):
        return pd.Series(np.fromiter((k in keys for k in series.to_numpy(object)), dtype=bool,
                                     count=len(series)), index=series.index)
    return series.astype(object).isin(keys)


# Columns of the identity frames matching reads (the batch's and the master index's) whose
# texts repeat from record to record: held once each (:func:`shared`).
REPEATED_TEXTS = ("source_kind", "file_key", "full_name", "family_key", "middle_key",
                  "given_key", "sex", "birth_date_precision", "personal_id_status",
                  "commune_code", "address_key", "facility_code", "household_head_key",
                  "mother_key")


def object_codes(values: pd.Series | np.ndarray | list) -> tuple[np.ndarray, np.ndarray]:
    """Each value's code among the distinct values, and the values by code with ``None`` last
    (a missing value's code, -1, takes it): ``table[codes]`` is the values again, one object
    per distinct value."""
    array = values.to_numpy(object) if isinstance(values, pd.Series) else np.asarray(
        values, dtype=object)  # (a Series built from a list first looks at every value)
    codes, distinct = pd.factorize(array, use_na_sentinel=True)
    table = np.empty(len(distinct) + 1, dtype=object)
    table[:-1] = distinct
    return codes, table


def shared(values: pd.Series | np.ndarray | list, once: dict | None = None) -> np.ndarray:
    """The values as an object array holding one object per distinct value (``None`` where a
    value is missing). Texts read back from JSON, Parquet or another process are a new object
    per cell: a million records' sexes, communes and family names were hundreds of megabytes of
    copies of a few hundred strings. ``once``: the objects kept so far for a column read in
    parts (value → its object), which a distinct value takes, or joins."""
    codes, table = object_codes(values)
    if once is not None:
        keep = once.setdefault
        table[:-1] = [keep(v, v) for v in table[:-1].tolist()]
    return table[codes]


def map_distinct(series: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """``series.map(fn)`` computing ``fn`` once per distinct value: names, dates and addresses
    repeat a lot in a district, so this keeps row-wise parsing cheap. Missing cells reach ``fn``
    as ``None``."""
    codes, distinct = pd.factorize(series.astype(object), use_na_sentinel=True)
    mapped = np.empty(len(distinct) + 1, dtype=object)  # the last: what a missing cell gives
    for k, v in enumerate(distinct.tolist()):
        mapped[k] = fn(v)
    if (codes < 0).any():
        mapped[-1] = fn(None)
    return pd.Series(mapped[codes], index=series.index, dtype=object)
