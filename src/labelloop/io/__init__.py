"""Import and export: one module per format family.

``import_file`` streams tables (CSV/TSV/JSON/JSONL/Parquet), image folders, Made With ML
projects, crowd answer tables and gold answers into a project; ``export_labels`` streams final
labels (and optionally every vote) out as CSV, JSONL or Parquet.
"""

from labelloop.io.exporters import EXPORT_FORMATS, export_labels, iter_export_records
from labelloop.io.importers import IMPORT_FORMATS, ImportReport, import_file
from labelloop.io.tables import read_table

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportReport", "export_labels", "import_file", "iter_export_records", "read_table"]
