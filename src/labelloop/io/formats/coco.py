"""COCO: export image classification labels; import boxes and categories for curation.

Import reads a COCO ``instances`` JSON (``images``, ``annotations``, ``categories``): each image
becomes an item (its file found beside the JSON, in ``images/``, one folder up, or in COCO's own
layout ``annotations/instances_val2017.json`` beside ``val2017/``), its boxes
are kept in the item's fields (``boxes``: category, ``bbox`` [x, y, w, h], area, iscrowd) and
its categories become one vote of an ``import`` source: every category present for multi-label
projects, the category with the largest total box area for single-label projects. So a
detection data set can be deduplicated, checked for label errors and seeded before any box is
edited.

Export writes the project's final labels as a COCO JSON: ``categories`` from the classes,
``images`` with their size, and one whole-image box per label with the label's confidence as
``score``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError
from labelloop.io.formats._common import atomic_path, export_records, item_count, resolve_image
from labelloop.io.importers import Row, RowSource, _jsonable
from labelloop.progress import progress


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_coco(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
              image_col=None) -> RowSource:
    if project.data_type != "image":
        raise InputError("COCO holds images; import it into an image project (labelloop init DIR --data image)", path=path)
    if path.is_dir():
        raise InputError("a COCO file is a JSON file (e.g. annotations/instances_train.json), not a folder", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("invalid UTF-8; re-save the file as UTF-8", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError("a COCO file is a JSON object with 'images', 'annotations' and 'categories'", path=path)
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(f"missing '{key}' list", path=path)
    anns = data.get("annotations") or []
    if not isinstance(anns, list):
        raise InputError("'annotations' must be a list", path=path)
    cats: dict[Any, str] = {}
    for k, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c or not str(c.get("name", "")).strip():
            raise InputError(f"categories[{k}]: needs 'id' and 'name'", path=path)
        if c["id"] in cats:
            raise InputError(f"categories[{k}]: id {c['id']} used twice", path=path)
        cats[c["id"]] = str(c["name"]).strip()
    images: dict[Any, dict] = {}
    for k, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or not str(im.get("file_name", "")).strip():
            raise InputError(f"images[{k}]: needs 'id' and 'file_name'", path=path)
        if im["id"] in images:
            raise InputError(f"images[{k}]: id {im['id']} used twice", path=path)
        images[im["id"]] = im
    boxes: dict[Any, list[dict]] = {}
    for k, a in enumerate(anns):
        where = f"annotations[{k}]"
        if not isinstance(a, dict):
            raise InputError(f"{where}: expected an object", path=path)
        if a.get("image_id") not in images:
            raise InputError(f"{where}.image_id: {a.get('image_id')!r} is not the id of an image", path=path)
        if a.get("category_id") not in cats:
            raise InputError(f"{where}.category_id: {a.get('category_id')!r} is not the id of a category", path=path)
        bbox = a.get("bbox")
        if bbox is not None and not (isinstance(bbox, list) and len(bbox) == 4 and all(_num(x) for x in bbox)):
            raise InputError(f"{where}.bbox: expected [x, y, width, height] numbers, got {bbox!r}", path=path)
        area = a.get("area")
        if area is None and bbox is not None:
            area = float(bbox[2]) * float(bbox[3])
        if area is not None and not _num(area):
            raise InputError(f"{where}.area: expected a number, got {area!r}", path=path)
        box = {"category": cats[a["category_id"]], "bbox": bbox, "area": area, "iscrowd": int(a.get("iscrowd") or 0)}
        if _num(a.get("score")):
            box["score"] = float(a["score"])
        boxes.setdefault(a["image_id"], []).append(box)
    name = source_name or f"coco:{path.stem}"
    base = path.parent
    # COCO's layout: annotations/instances_val2017.json beside val2017/ (the images)
    split = path.stem.split("_", 1)[1] if path.stem.startswith(("instances_", "person_keypoints_", "captions_")) else path.stem
    extra = [base.parent / split, base / split]

    def rows():
        for n, (iid, im) in enumerate(images.items(), start=1):
            where = f"images[{n - 1}] (id {iid})"
            img = resolve_image(im["file_name"], base, where=where, path=path, extra_dirs=extra)
            bs = boxes.get(iid, [])
            votes: list[tuple] = []
            if bs:
                if schema.is_multi:
                    votes.append((name, "import", sorted({b["category"] for b in bs})))
                else:
                    area: dict[str, float] = {}
                    for b in bs:
                        area[b["category"]] = area.get(b["category"], 0.0) + float(b["area"] or 0.0)
                    best = max(sorted(area), key=lambda c: area[c])
                    scores = [b["score"] for b in bs if b["category"] == best and "score" in b]
                    votes.append((name, "import", best, max(scores) if scores else None))
            ext = str(im.get("labelloop_id") or iid)
            fields = {k: _jsonable(v) for k, v in im.items() if k not in ("labelloop_id",)}
            fields["coco_id"] = fields.pop("id")
            fields["boxes"] = bs
            yield Row(line=n, external_id=ext, image=img, fields=fields, votes=votes, content=Path(img).read_bytes())

    return RowSource(rows=rows, label="coco")


def _size(path: str | None, fields: dict | None) -> tuple[int, int]:
    if fields and _num(fields.get("width")) and _num(fields.get("height")):
        return int(fields["width"]), int(fields["height"])
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, TypeError, ValueError):
        return 0, 0


def write_coco(project, out: Path, *, votes: bool = False, **_: Any) -> int:
    """Write the final labels as a COCO JSON (whole-image boxes) to ``out``."""
    from labelloop.store import repo

    if project.data_type != "image":
        raise InputError("COCO export needs an image project; use csv, jsonl, parquet or hf for text")
    schema = project.schema
    cat_id = {c: i for i, c in enumerate(schema.classes, start=1)}
    with project.session() as s:
        items = repo.items_frame(s, project.id)
    item_fields = dict(zip(items["external_id"], items["fields"], strict=True))
    images, anns = [], []
    bar = progress(total=item_count(project), desc=f"export {out.name}", unit="items")
    for n, rec in enumerate(export_records(project, votes=False), start=1):
        w, h = _size(rec.get("image"), item_fields.get(rec["id"]))
        images.append({"id": n, "file_name": rec.get("image"), "width": w, "height": h, "labelloop_id": rec["id"]})
        lab = rec.get("label")
        for c in (lab if isinstance(lab, list) else [] if lab is None else [lab]):
            if c not in cat_id:
                cat_id[c] = len(cat_id) + 1
            a = {"id": len(anns) + 1, "image_id": n, "category_id": cat_id[c], "bbox": [0, 0, w, h], "area": w * h, "iscrowd": 0}
            if rec.get("confidence") is not None:
                a["score"] = float(rec["confidence"])
            anns.append(a)
        bar.update(1)
    bar.close()
    doc = {"info": {"description": f"labelloop project {project.name}"}, "images": images, "annotations": anns,
           "categories": [{"id": i, "name": c, "supercategory": ""} for c, i in cat_id.items()]}
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return len(images)
