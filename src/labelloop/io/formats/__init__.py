"""Other tools' formats: each module reads and/or writes one tool's files.

Importing this package registers every format with ``labelloop.io.import_file`` and
``labelloop.io.export_labels`` (and so with ``labelloop import/export --format NAME``):

============  =========================================  ==========  ==========  ============
format        tool                                       import      export      votes kept
============  =========================================  ==========  ==========  ============
labelstudio   Label Studio JSON (tasks, annotations)     yes         yes         yes
gt-manifest   SageMaker Ground Truth manifests           yes         yes         yes
toloka        Toloka task / result TSV                   yes         yes         yes
mturk         Mechanical Turk batch / results CSV        yes         yes         yes
coco          COCO JSON (categories, boxes)              yes         yes         final labels
voc           Pascal VOC XML folder                      yes         yes         final labels
hf            Hugging Face ``datasets`` DatasetDict      yes         yes         yes
============  =========================================  ==========  ==========  ============

Heavy libraries (``datasets``) are imported only when their format is used.
"""

from __future__ import annotations

from labelloop.io.exporters import register_writer
from labelloop.io.formats import coco, groundtruth, hf, labelstudio, mturk, toloka, voc
from labelloop.io.importers import register_reader

FORMATS = {
    "labelstudio": (labelstudio.read_labelstudio, labelstudio.write_labelstudio),
    "gt-manifest": (groundtruth.read_manifest, groundtruth.write_manifest),
    "toloka": (toloka.read_toloka, toloka.write_toloka),
    "mturk": (mturk.read_mturk, mturk.write_mturk),
    "coco": (coco.read_coco, coco.write_coco),
    "voc": (voc.read_voc, voc.write_voc),
    "hf": (hf.read_hf, hf.write_hf),
}
# formats whose export with votes=True keeps every vote of every source
VOTE_FORMATS = ("labelstudio", "gt-manifest", "toloka", "mturk", "hf")

for _name, (_reader, _writer) in FORMATS.items():
    register_reader(_name, _reader)
    register_writer(_name, _writer)

__all__ = ["FORMATS", "VOTE_FORMATS", "coco", "groundtruth", "hf", "labelstudio", "mturk", "toloka", "voc"]
