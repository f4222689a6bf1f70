"""CLI: labelloop gt / labelstudio commands and the --format options, as a user runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_formats_roundtrip import make_project  # noqa: E402

from labelloop.io.formats.groundtruth import write_manifest  # noqa: E402
from labelloop.store import repo  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def test_input_manifest_of_the_queue_head(tmp_path):
    proj = make_project(tmp_path)
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["i1", "i2", "i3"])
        repo.set_priorities(s, proj.id, [ids["i1"], ids["i2"], ids["i3"]], [0.1, 0.5, 0.9], "margin")
    out = tmp_path / "batch.manifest"
    assert write_manifest(proj, out, top=2) == 2
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == [{"source": "win, a \"prize\"\ttoday", "labelloop-id": "i3"}, {"source": "hello friend", "labelloop-id": "i2"}]
    # only items without a final label (i1 and i2 have one)
    assert write_manifest(proj, out, top=5, unlabelled_only=True) == 1
    assert json.loads(out.read_text())["labelloop-id"] == "i3"


def test_image_input_manifest_uses_source_ref(tmp_path):
    proj = make_project(tmp_path, data="image")
    out = tmp_path / "in.manifest"
    write_manifest(proj, out)
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) == {"source-ref", "labelloop-id"} and first["source-ref"].endswith("im1.png")


@pytest.mark.slow
def test_cli_gt_and_labelstudio_commands(tmp_path, cli):
    make_project(tmp_path).close()
    p = tmp_path / "src"
    r = cli("gt", "manifest", p, tmp_path / "b.manifest", "--top", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote 1 items to {tmp_path / 'b.manifest'}"
    r = cli("gt", "consolidate", FIX / "gt_dataset_objects.json", "--method", "mv", "--label-attribute", "sentiment")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["consolidatedAnnotation"]["content"]["sentiment"]["label"] for o in out] == ["positive", "negative", "negative"]
    r = cli("labelstudio", "config", p)
    assert r.returncode == 0 and '<Choice value="spam"/>' in r.stdout and 'choice="single"' in r.stdout
    r = cli("import", p, FIX / "toloka_results.tsv", "--format", "nope")
    assert r.returncode != 0 and "unknown format 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = cli("export", p, tmp_path / "x.json", "--format", "coco")
    assert r.returncode != 0 and "COCO export needs an image project" in r.stderr
    r = cli("export", "--help")
    assert "labelstudio|gt-manifest|toloka|mturk|coco|voc|hf" in r.stdout


def test_manifest_prelabels_drive_the_pre_annotation_handler(tmp_path, monkeypatch):
    import numpy as np

    from labelloop.io.formats.groundtruth import pre_annotation_handler

    proj = make_project(tmp_path)
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["i1", "i2"])
        repo.write_predictions(s, proj.id, "clf-1", [ids["i1"], ids["i2"]], np.array([[0.01, 0.99], [0.4, 0.6]]), ["ham", "spam"])
    out = tmp_path / "in.manifest"
    write_manifest(proj, out, prelabels=True)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["labelloop-prelabel"] == {"label": "spam", "confidence": 0.99, "model": "clf-1"}
    assert "labelloop-prelabel" not in lines[2]
    monkeypatch.setenv("LABELLOOP_AUTO_ACCEPT", "0.98")
    needed = [pre_annotation_handler({"dataObject": line})["isHumanAnnotationRequired"] for line in lines]
    assert needed == ["false", "true", "true"]
