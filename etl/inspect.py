"""What the toolkit sees in a file before anything is loaded (``hssk inspect``).

Detected kind, byte and font encodings, per sheet the header band and how each column maps,
rows found, the first rows as parsed, and the problems that would reject rows — so an operator
can check a workbook in seconds. ID numbers are masked unless asked for.

A use case over extract and transform (it runs both on one file), so it sits beside the pipeline
rather than inside a stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from etl.errors import SourceError
from etl.extract import clinic_xml, extract_files
from etl.extract.mapping import mappings_for
from etl.extract.sheets import read_tabular
from etl.privacy import mask
from etl.stage import records_as_dicts
from etl.transform import transform_stage


@dataclass
class SheetView:
    name: str
    text_encoding: str
    header_rows: str | None  # Excel rows of the header band, e.g. "5-6"
    mapping: dict[str, str] = field(default_factory=dict)  # header → field
    unmapped: list[str] = field(default_factory=list)
    data_rows: int = 0
    footer_row: int | None = None
    kind: str | None = None
    structure: dict[str, int] = field(default_factory=dict)  # rows skipped as form structure
    note: str | None = None  # why the sheet was not read


@dataclass
class Inspection:
    file: str
    kind: str
    reader: str | None
    encoding: str | None
    sheets: list[SheetView]
    rows: int
    would_load: int
    would_reject: dict[str, int]
    findings: dict[str, int]
    preview: list[dict[str, object]]
    notes: list[str]


def _sheet_view(sheet) -> SheetView:  # type: ignore[no-untyped-def]
    view = SheetView(sheet.name, sheet.text_encoding, None, data_rows=len(sheet.records),
                     footer_row=sheet.footer_row, structure=dict(sheet.structure),
                     note=sheet.note)
    match = sheet.match
    if match is not None:
        first = match.header_row + 1
        view.header_rows = f"{first}" if match.band == 1 else f"{first}-{first + match.band - 1}"
        view.mapping = {match.headers[i]: f for i, f in sorted(match.columns.items())}
        view.unmapped = match.unmapped
        view.kind = match.mapping.kind
    return view


def inspect_file(path: Path, *, kind: str | None = None, text_encoding: str | None = None,
                 mapping_files: list[Path] | None = None, preview: int = 5,
                 show_ids: bool = False) -> Inspection:
    path = Path(path)
    sheets: list[SheetView] = []
    reader = encoding = None
    if not clinic_xml.sniff(path) and path.suffix.lower() != ".xml":
        try:
            book = read_tabular(path, "", mappings_for(mapping_files), kind, text_encoding)
        except SourceError:
            book = None  # extract_files below reports it as the file's problem
        if book is not None:
            reader, encoding = book.info["reader"], book.info["encoding"]
            sheets = [_sheet_view(s) for s in book.sheets if s.note != "empty sheet"]
    data = extract_files([path], kind=kind, text_encoding=text_encoding,
                         mapping_files=mapping_files).data
    clean = transform_stage(data)
    found_kind = str(data.files.iloc[0]["kind"])
    if reader is None:
        reader, encoding = data.files.iloc[0]["reader"], data.files.iloc[0]["encoding"]
    rows = []
    for r in records_as_dicts(clean.records.head(preview)):
        birth = None
        if r["birth_year"] is not None:
            birth = "-".join(f"{v:02d}" if i else str(v) for i, v in enumerate(
                x for x in (r["birth_year"], r["birth_month"], r["birth_day"]) if x is not None))
            birth += f" ({r['birth_date_precision']})"
        rows.append({"locator": r["locator"], "full_name": r["full_name"], "birth": birth,
                     "sex": r["sex"], "personal_id": mask(r["personal_id"], show_ids),
                     "social_insurance_code": mask(r["social_insurance_code"], show_ids),
                     "ethnicity_code": r["ethnicity_code"],
                     "permanent_commune_code": r["permanent_commune_code"]})
    rejects = clean.rejects
    return Inspection(
        file=path.name, kind=found_kind, reader=reader, encoding=encoding, sheets=sheets,
        rows=int(data.files.iloc[0]["rows"]), would_load=len(clean.records),
        would_reject=dict(Counter(rejects["slug"]).most_common()) if len(rejects) else {},
        findings=dict(Counter(clean.issues["slug"]).most_common())
        if clean.issues is not None and len(clean.issues) else {},
        preview=rows,
        notes=[n["message"] for n in data.meta.get("notes", [])],
    )
