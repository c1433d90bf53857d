"""The analysts' review loop: the open queue as a workbook to fill in, and its decisions back.

``export_workbook`` writes the queue (:mod:`etl.review.workbook`), ``import_workbook`` validates
a filled one and applies it (:mod:`etl.review.importer`) through the audited changes of
:mod:`etl.load.curation`.
"""

from etl.review.importer import ImportReport, import_workbook
from etl.review.workbook import ExportResult, export_workbook

__all__ = ["ExportResult", "ImportReport", "export_workbook", "import_workbook"]
