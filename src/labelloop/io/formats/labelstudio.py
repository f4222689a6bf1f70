"""Label Studio: import its JSON export, export tasks with pre-annotations or every vote.

Import (``--format labelstudio``) reads the JSON export of a Label Studio project: a list of
tasks ``{id, data, annotations[], predictions[]}``. Each annotation becomes a vote of its
annotator (``completed_by``; ``ground_truth`` annotations are gold), each prediction a vote of
its ``model_version`` with ``score`` as confidence. Classification results are ``choices``
results (one choice for single-label projects, several for multi-label projects); cancelled
annotations and other result types are skipped.

Export writes the JSON Label Studio imports:

* without ``votes``: tasks with our model predictions as pre-annotations (the newest model in
  the store, else the final labels with their confidence);
* with ``votes``: every vote, people as ``annotations`` and machines (labeling functions,
  models, propagation, pre-labels) as ``predictions``, with the source names and kinds kept in
  the task's ``meta`` so that importing the file again gives the same votes.

:func:`labeling_config` writes the matching ``<View>`` labeling config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from labelloop.exceptions import InputError
from labelloop.io.formats._common import (
    HUMAN_KINDS,
    atomic_path,
    export_records,
    item_count,
    resolve_image,
)
from labelloop.io.importers import TEXT_COLUMNS, Row, RowSource, _is_missing, _jsonable
from labelloop.progress import progress

FROM_NAME = "label"
META_KEY = "labelloop_sources"


# ---------------------------------------------------------------------- import
def _choices(result: Any, where: str, path: Path, from_name: str | None) -> list[str] | None:
    """The chosen classes of one annotation/prediction ``result`` list, or None if it has none."""
    if not isinstance(result, list):
        raise InputError(f"{where}.result: expected a list, got {type(result).__name__}", path=path)
    found: list[str] | None = None
    for k, r in enumerate(result):
        if not isinstance(r, dict):
            raise InputError(f"{where}.result[{k}]: expected an object", path=path)
        kind = r.get("type")
        if kind not in ("choices", "taxonomy"):
            continue
        if from_name and r.get("from_name") != from_name:
            continue
        value = r.get("value")
        if not isinstance(value, dict) or kind not in value:
            raise InputError(f"{where}.result[{k}].value: expected an object with '{kind}'", path=path)
        ch = value[kind]
        if kind == "taxonomy":  # paths of nested choices: keep the leaf of each path
            if not isinstance(ch, list) or not all(isinstance(p, list) and p for p in ch):
                raise InputError(f"{where}.result[{k}].value.taxonomy: expected a list of non-empty lists", path=path)
            ch = [p[-1] for p in ch]
        if not isinstance(ch, list) or not all(isinstance(c, str) for c in ch):
            raise InputError(f"{where}.result[{k}].value.{kind}: expected a list of strings, got {ch!r}", path=path)
        found = (found or []) + ch
    return found


def _user_name(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        v = completed_by.get("email") or completed_by.get("username") or completed_by.get("id")
        return f"ls:{v}" if v is not None else "ls:annotator"
    if completed_by is None:
        return "ls:annotator"
    return f"ls:{completed_by}"


def read_labelstudio(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
                     image_col=None) -> RowSource:
    from labelloop.io.tables import load_json_records

    if path.is_dir():
        raise InputError("a Label Studio export is a JSON file, not a folder", path=path)
    multi = schema.is_multi
    image = project.data_type == "image"
    base = path.parent

    tasks = load_json_records(path, key="tasks")  # parsed once for both passes of the import

    def rows():
        for n, task in enumerate(tasks, start=1):
            where = f"task {n}" + (f" (id {task['id']})" if "id" in task else "")
            data = task.get("data")
            if not isinstance(data, dict):
                raise InputError(f"{where}: 'data' must be an object with the task's text or image", path=path)
            # id: a data column, else the Label Studio task id
            key = id_col or next((k for k in ("external_id", "id") if k in data), None)
            if key is not None:
                if _is_missing(data.get(key)):
                    raise InputError(f"{where}: data.{key} is empty", path=path)
                ext = str(data[key]).strip()
            elif not _is_missing(task.get("id")):
                ext = str(task["id"])
            else:
                raise InputError(f"{where}: no id (neither data.external_id, data.id nor id)", path=path)
            text = img = content = None
            if image:
                ik = image_col or next((k for k in ("image", "img", "image_url", "url") if k in data), None)
                if ik is None or (data.get(ik) is not None and _is_missing(data.get(ik))):
                    raise InputError(f"{where}: data has no image field (looked for {image_col or 'image, img, image_url, url'})", path=path)
                if data[ik] is not None:  # null: an item known only by its answers
                    img = resolve_image(str(data[ik]), base, where=f"{where}: data.{ik}", path=path)
                    content = Path(img).read_bytes()
                used = {ik}
            else:
                tk = text_col or next((k for k in TEXT_COLUMNS if k in data), None)
                if tk is None or (data.get(tk) is not None and _is_missing(data.get(tk))):
                    raise InputError(f"{where}: data has no text field (looked for {text_col or ', '.join(TEXT_COLUMNS)}); pass --text-col", path=path)
                if data[tk] is not None:  # null: an item known only by its answers
                    text = str(data[tk])
                    content = text.encode("utf-8")
                used = {tk}
            meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
            named = meta.get(META_KEY) if isinstance(meta.get(META_KEY), dict) else {}
            votes: list[tuple] = []
            for field_name, default_kind in (("annotations", "human"), ("completions", "human"), ("predictions", "model")):
                entries = task.get(field_name) or []
                if not isinstance(entries, list):
                    raise InputError(f"{where}.{field_name}: expected a list", path=path)
                names = named.get(field_name) or []
                for j, a in enumerate(entries):
                    w = f"{where}.{field_name}[{j}]"
                    if not isinstance(a, dict):
                        raise InputError(f"{w}: expected an object", path=path)
                    conf = a.get("score")
                    if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))):
                        raise InputError(f"{w}.score: expected a number, got {conf!r}", path=path)
                    if a.get("was_cancelled"):
                        continue
                    ch = _choices(a.get("result", []), w, path, label_col)
                    if not ch:
                        continue
                    if not multi and len(ch) != 1:
                        raise InputError(f"{w}: {len(ch)} choices {ch} in a single-label project", path=path)
                    value = ch if multi else ch[0]
                    if j < len(names) and isinstance(names[j], dict) and names[j].get("source"):
                        src, kind = str(names[j]["source"]), str(names[j].get("kind") or default_kind)
                    elif default_kind == "model":
                        src, kind = str(a.get("model_version") or "ls:prediction"), "model"
                    else:
                        src = _user_name(a.get("completed_by"))
                        kind = "gold" if a.get("ground_truth") else "human"
                    if source_name:
                        src = f"{source_name}:{src}"
                    votes.append((src, kind, value, None if conf is None else float(conf)))
            seen: set[str] = set()
            for v in votes:
                if v[0] in seen:
                    raise InputError(f"{where}: source '{v[0]}' answers twice", path=path)
                seen.add(v[0])
            fields = {k: _jsonable(v) for k, v in data.items() if k not in used}
            if "id" in task:
                fields["labelstudio_task_id"] = task["id"]
            yield Row(line=n, external_id=ext, text=text, image=img, fields=fields, votes=votes, content=content)

    return RowSource(rows=rows, allow_no_content=True, label="labelstudio")


# ---------------------------------------------------------------------- export
def _result(value: Any, to_name: str) -> list[dict[str, Any]]:
    choices = value if isinstance(value, list) else [value]
    return [{"from_name": FROM_NAME, "to_name": to_name, "type": "choices", "value": {"choices": [str(c) for c in choices]}}]


def labeling_config(classes: list[str], *, data_type: str = "text", multi: bool = False) -> str:
    """The Label Studio ``<View>`` config for a classification project with these classes."""
    obj = '<Image name="image" value="$image"/>' if data_type == "image" else '<Text name="text" value="$text"/>'
    to = "image" if data_type == "image" else "text"
    choice = "multiple" if multi else "single"
    opts = "".join(f"\n    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return f'<View>\n  {obj}\n  <Choices name="{FROM_NAME}" toName="{to}" choice="{choice}">{opts}\n  </Choices>\n</View>\n'


def _local_files_url(image: str | None, root: Path) -> str | None:
    from urllib.parse import quote

    if image is None:
        return None
    try:
        rel = Path(image).resolve().relative_to(root.resolve())
    except ValueError:
        raise InputError(f"image {image} is not under the local files root {root}") from None
    return "/data/local-files/?d=" + quote(rel.as_posix())


def write_labelstudio(project, out: Path, *, votes: bool = False, config: bool = True,
                      local_files_root: str | Path | None = None, **_: Any) -> int:
    """Write Label Studio tasks to ``out`` (a JSON array); see the module docstring.

    With ``config`` the labeling config is written beside it as ``<out stem>.label_config.xml``.
    With ``local_files_root`` image paths become Label Studio local-storage URLs
    (``/data/local-files/?d=<path under the root>``; start Label Studio with
    ``LOCAL_FILES_DOCUMENT_ROOT`` set to that root).
    """
    from labelloop.store import repo

    is_image = project.data_type == "image"
    to_name = "image" if is_image else "text"
    preds: dict[int, tuple[str, Any, float | None]] = {}
    ids_by_ext: dict[str, int] = {}
    if not votes:
        with project.session() as s:
            pf = repo.predictions_frame(s, project.id)
            if len(pf):
                items = repo.items_frame(s, project.id, item_ids=pf["item_id"].tolist())
                ids_by_ext = dict(zip(items["external_id"], items["item_id"], strict=True))
                for iid, mv, lab, conf in zip(pf["item_id"], pf["model_version"], pf["label"], pf["confidence"], strict=True):
                    preds[int(iid)] = (str(mv), lab, None if conf is None else float(conf))
    schema = project.schema
    n = 0
    bar = progress(total=item_count(project), desc=f"export {out.name}", unit="items")
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for rec in export_records(project, votes=votes):
            media = rec.get(to_name)
            if is_image and local_files_root is not None:
                media = _local_files_url(media, Path(local_files_root))
            data = {"external_id": rec["id"], to_name: media}
            task: dict[str, Any] = {"data": data}
            if votes:
                anns, prs, names = [], [], {"annotations": [], "predictions": []}
                for v in rec["votes"]:
                    if v["kind"] in HUMAN_KINDS:
                        a = {"result": _result(v["label"], to_name), "ground_truth": v["kind"] == "gold", "was_cancelled": False}
                        anns.append(a)
                        names["annotations"].append({"source": v["source"], "kind": v["kind"]})
                    else:
                        p = {"model_version": v["source"], "result": _result(v["label"], to_name)}
                        if v.get("confidence") is not None:
                            p["score"] = float(v["confidence"])
                        prs.append(p)
                        names["predictions"].append({"source": v["source"], "kind": v["kind"]})
                task["annotations"], task["predictions"] = anns, prs
                task["meta"] = {META_KEY: names}
            else:
                iid = ids_by_ext.get(rec["id"])
                if iid is not None and iid in preds:
                    mv, lab, conf = preds[iid]
                elif rec.get("label") not in (None, []):
                    mv, lab, conf = f"labelloop-{rec.get('method') or 'labels'}", rec["label"], rec.get("confidence")
                else:
                    mv = None
                if mv is not None:
                    p = {"model_version": mv, "result": _result(lab, to_name)}
                    if conf is not None:
                        p["score"] = float(conf)
                    task["predictions"] = [p]
            fh.write(("," if n else "") + "\n" + json.dumps(task, ensure_ascii=False))
            n += 1
            bar.update(1)
        fh.write("\n]\n")
    bar.close()
    if config:
        out.with_name(out.stem + ".label_config.xml").write_text(
            labeling_config(schema.classes, data_type=project.data_type, multi=schema.is_multi), encoding="utf-8")
    return n
