"""Pascal VOC: export image classification labels; import boxes and classes for curation.

Import reads a VOC folder (``Annotations/*.xml`` beside ``JPEGImages/``, or a folder of XML
files): each ``<annotation>`` becomes an item whose file is ``<path>``, ``JPEGImages/<filename>``
or ``<filename>`` beside the XML; its objects are kept in the item's fields (``boxes``: name,
bndbox, difficult, truncated, pose) and its classes become one vote of an ``import`` source
(every class for multi-label projects, the class with the largest box area for single-label
projects).

Export writes a VOC folder: ``Annotations/<id>.xml`` with one whole-image object per label and
the VOC classification lists ``ImageSets/Main/<class>_trainval.txt`` (``1`` / ``-1`` per image).
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError
from labelloop.io.formats.coco import _size
from labelloop.io.importers import Row, RowSource
from labelloop.progress import progress

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _int(el: ET.Element, tag: str, where: str, path: Path) -> float:
    node = el.find(tag)
    if node is None or node.text is None:
        raise InputError(f"{where}: missing <{tag}>", path=path)
    try:
        return float(node.text)
    except ValueError:
        raise InputError(f"{where}: <{tag}> is not a number ({node.text!r})", path=path) from None


def _parse(xml: Path) -> dict[str, Any]:
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        raise InputError(f"malformed XML: {exc}", path=xml) from None
    if root.tag != "annotation":
        raise InputError(f"root element is <{root.tag}>, expected <annotation>", path=xml)
    fn = (root.findtext("filename") or "").strip()
    if not fn:
        raise InputError("missing <filename>", path=xml)
    size = root.find("size")
    w = h = None
    if size is not None:
        w, h = _int(size, "width", "<size>", xml), _int(size, "height", "<size>", xml)
    objs = []
    for k, ob in enumerate(root.findall("object")):
        where = f"<object> {k + 1}"
        name = (ob.findtext("name") or "").strip()
        if not name:
            raise InputError(f"{where}: missing <name>", path=xml)
        bb = ob.find("bndbox")
        box = None
        if bb is not None:
            x1, y1, x2, y2 = (_int(bb, t, f"{where} <bndbox>", xml) for t in ("xmin", "ymin", "xmax", "ymax"))
            if x2 < x1 or y2 < y1:
                raise InputError(f"{where} <bndbox>: xmax/ymax smaller than xmin/ymin", path=xml)
            box = [x1, y1, x2, y2]
        objs.append({"name": name, "bndbox": box, "area": (box[2] - box[0]) * (box[3] - box[1]) if box else 0.0,
                     "difficult": int(float(ob.findtext("difficult") or 0)), "truncated": int(float(ob.findtext("truncated") or 0)),
                     "pose": (ob.findtext("pose") or "").strip() or None})
    return {"filename": fn, "path": (root.findtext("path") or "").strip() or None, "width": w, "height": h,
            "objects": objs, "labelloop_id": (root.findtext("labelloop_id") or "").strip() or None}


def read_voc(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
             image_col=None) -> RowSource:
    if project.data_type != "image":
        raise InputError("Pascal VOC holds images; import it into an image project (labelloop init DIR --data image)", path=path)
    if not path.is_dir():
        raise InputError("a Pascal VOC data set is a folder (with Annotations/ and JPEGImages/)", path=path)
    ann_dir = path / "Annotations" if (path / "Annotations").is_dir() else path
    xmls = sorted(ann_dir.glob("*.xml"))
    if not xmls:
        from labelloop.exceptions import EmptyInputError

        raise EmptyInputError("no .xml annotation files", path=ann_dir)
    img_dir = path / "JPEGImages"
    name = source_name or f"voc:{path.resolve().name}"

    def rows():
        for n, xml in enumerate(xmls, start=1):
            a = _parse(xml)
            cands = [Path(a["path"])] if a["path"] else []
            cands += [img_dir / a["filename"], xml.parent / a["filename"], path / a["filename"]]
            img = next((c for c in cands if c.is_file()), None)
            if img is None:
                raise InputError(f"image '{a['filename']}' not found (looked in {img_dir} and beside the XML)", path=xml)
            votes: list[tuple] = []
            if a["objects"]:
                if schema.is_multi:
                    votes.append((name, "import", sorted({o["name"] for o in a["objects"]})))
                else:
                    area: dict[str, float] = {}
                    for o in a["objects"]:
                        area[o["name"]] = area.get(o["name"], 0.0) + o["area"]
                    votes.append((name, "import", max(sorted(area), key=lambda c: area[c])))
            fields = {"file": a["filename"], "width": a["width"], "height": a["height"], "boxes": a["objects"]}
            yield Row(line=n, external_id=a["labelloop_id"] or Path(a["filename"]).stem, image=str(img.resolve()),
                      fields=fields, votes=votes, content=img.read_bytes())

    return RowSource(rows=rows, label="voc")


def _el(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e


def write_voc(project, out: Path, *, votes: bool = False, **_: Any) -> int:
    """Write a VOC folder (Annotations/ + ImageSets/Main/) with the final labels to ``out``."""
    from labelloop.io.formats._common import export_records, item_count
    from labelloop.store import repo

    if project.data_type != "image":
        raise InputError("Pascal VOC export needs an image project; use csv, jsonl, parquet or hf for text")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("Pascal VOC export writes a folder; the output path is a file", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / "Annotations").is_dir():
        raise InputError("output folder exists and is not a Pascal VOC folder; give a new or empty folder", path=out)
    with project.session() as s:
        items = repo.items_frame(s, project.id)
    item_fields = dict(zip(items["external_id"], items["fields"], strict=True))
    classes = list(project.schema.classes)
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "Annotations").mkdir(parents=True)
    (tmp / "ImageSets" / "Main").mkdir(parents=True)
    members: list[tuple[str, set[str]]] = []
    used: set[str] = set()
    bar = progress(total=item_count(project), desc=f"export {out.name}", unit="items")
    try:
        for rec in export_records(project, votes=False):
            stem = _SAFE.sub("_", rec["id"]) or "item"
            base, k = stem, 1
            while stem in used:
                k += 1
                stem = f"{base}_{k}"
            used.add(stem)
            img = rec.get("image") or ""
            w, h = _size(img, item_fields.get(rec["id"]))
            root = ET.Element("annotation")
            _el(root, "folder", "JPEGImages")
            _el(root, "filename", Path(img).name)
            _el(root, "path", img)
            _el(root, "labelloop_id", rec["id"])
            size = _el(root, "size")
            _el(size, "width", w)
            _el(size, "height", h)
            _el(size, "depth", 3)
            _el(root, "segmented", 0)
            lab = rec.get("label")
            labs = lab if isinstance(lab, list) else ([] if lab is None else [lab])
            for c in labs:
                ob = _el(root, "object")
                _el(ob, "name", c)
                _el(ob, "pose", "Unspecified")
                _el(ob, "truncated", 0)
                _el(ob, "difficult", 0)
                bb = _el(ob, "bndbox")
                for t, v in (("xmin", 0), ("ymin", 0), ("xmax", w), ("ymax", h)):
                    _el(bb, t, v)
                if c not in classes:
                    classes.append(c)
            ET.ElementTree(root).write(tmp / "Annotations" / f"{stem}.xml", encoding="utf-8", xml_declaration=True)
            members.append((stem, set(labs)))
            bar.update(1)
        for c in classes:
            with (tmp / "ImageSets" / "Main" / f"{_SAFE.sub('_', c)}_trainval.txt").open("w", encoding="utf-8") as fh:
                for stem, labs in members:
                    fh.write(f"{stem} {1 if c in labs else -1}\n")
        with (tmp / "ImageSets" / "Main" / "trainval.txt").open("w", encoding="utf-8") as fh:
            fh.write("".join(f"{stem}\n" for stem, _ in members))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return len(members)
