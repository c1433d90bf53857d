"""Extract: source files in, one staged-record table out (values exactly as typed + provenance).

Each file's kind is detected from its content (the mapping whose headers fit best, or the XML
envelope) unless ``kind`` is given. Rows that cannot become a record go to rejects with file,
position and reason; nothing is dropped silently.

The work is split by concern: :mod:`~etl.extract.files` (which files), :mod:`~etl.extract.read`
(one file into parts), :mod:`~etl.extract.chunks` (parts into bounded staged tables) and
:mod:`~etl.extract.batch` (the whole run); the readers are :mod:`~etl.extract.sheets` with
:mod:`~etl.extract.tabular` (workbooks, CSV) and :mod:`~etl.extract.clinic_xml`.
"""

from etl.extract.batch import ExtractResult, Progress, extract_files, iter_extract
from etl.extract.files import SUPPORTED_SUFFIXES, expand_paths, file_sha256, unsupported_files
from etl.extract.read import FileNote

__all__ = ["SUPPORTED_SUFFIXES", "ExtractResult", "FileNote", "Progress", "expand_paths",
           "extract_files", "file_sha256", "iter_extract", "unsupported_files"]
