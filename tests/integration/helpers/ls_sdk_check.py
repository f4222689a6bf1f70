"""Check a Label Studio JSON export with the ``label-studio-sdk`` package (run in its own venv).

Usage: python ls_sdk_check.py TASKS.json CONFIG.xml
Prints a JSON report: tasks checked, errors found by ``LabelInterface`` and the rows that the
SDK's ``Converter`` produces when it converts the file to CSV.

Or: python ls_sdk_check.py --generate N CONFIG.xml OUT.json
writes N tasks made by the SDK itself (sample data, one annotation and one prediction each).
"""

import csv
import json
import sys
import tempfile
from pathlib import Path

from label_studio_sdk.converter import Converter
from label_studio_sdk.label_interface import LabelInterface

if sys.argv[1] == "--generate":
    li = LabelInterface(Path(sys.argv[3]).read_text())
    made = [{"id": k + 1, "data": li.generate_sample_task(), "annotations": [li.generate_sample_annotation()],
             "predictions": [li.generate_sample_prediction()]} for k in range(int(sys.argv[2]))]
    Path(sys.argv[4]).write_text(json.dumps(made))
    sys.exit(0)

tasks_path, config_path = Path(sys.argv[1]), Path(sys.argv[2])
config = config_path.read_text()
li = LabelInterface(config)
tasks = json.loads(tasks_path.read_text())
errors = []
n_ann = n_pred = 0
for k, t in enumerate(tasks):
    if not li.validate_task({"data": t["data"]}):
        errors.append(f"task {k}: data does not match the config")
    for a in t.get("annotations", []):
        n_ann += 1
        if not li.validate_annotation(a):
            errors.append(f"task {k}: annotation invalid")
    for p in t.get("predictions", []):
        n_pred += 1
        errs = li.validate_prediction(p, return_errors=True)
        if errs is not True and errs:
            errors.append(f"task {k}: prediction invalid: {errs}")
# the SDK's converter reads the export as Label Studio's own JSON export
for t in tasks:
    for a in t.get("annotations", []):
        a.setdefault("completed_by", 1)
        a.setdefault("id", 1)
with tempfile.TemporaryDirectory() as d:
    src = Path(d) / "export.json"
    src.write_text(json.dumps([{**t, "id": i + 1} for i, t in enumerate(tasks)]))
    conv = Converter(config=config, project_dir=d, download_resources=False)
    outdir = Path(d) / "csv"
    conv.convert_to_csv(str(src), str(outdir), is_dir=False, sep=",", header=True)
    files = list(outdir.glob("*.csv"))
    rows = list(csv.DictReader(files[0].open())) if files else []
print(json.dumps({"tasks": len(tasks), "annotations": n_ann, "predictions": n_pred, "errors": errors,
                  "csv_rows": [{k: r.get(k) for k in ("external_id", "label")} for r in rows]}))
