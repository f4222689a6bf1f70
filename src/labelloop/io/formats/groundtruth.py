"""SageMaker Ground Truth: manifests in and out, and Lambda handlers whose consolidation is ours.

Manifests are JSON lines. An *input manifest* line names one data object with ``source``
(text) or ``source-ref`` (an image URI), plus any other attributes, which Ground Truth passes
through. An *output manifest* line adds a label attribute and its ``<attr>-metadata``::

    {"source": "great phone", "labelloop-id": "7",
     "sentiment": 1, "sentiment-metadata": {"class-name": "positive", "confidence": 0.93,
        "type": "groundtruth/text-classification", "job-name": "labeling-job/sentiment",
        "human-annotated": "yes", "creation-date": "2024-01-01T00:00:00"}}

Multi-label jobs write a list of class indices with ``class-map`` / ``confidence-map``.

Given a labeling job's output folder (``manifests/output/output.manifest`` beside
``annotations/worker-response/iteration-N/<dataset object id>/*.json``), the per-worker answers
of built-in jobs are read from the worker-response files.

Items are identified by the ``labelloop-id`` attribute our input manifests carry (or
``--id-col``), else by ``source-ref`` for images and by the line number for text.

Per-worker answers come in the shape the consolidation step receives from Ground Truth
(``{"workerId", "annotationData": {"content": "<JSON>"}}``): :func:`read_manifest` reads them
from an ``annotations`` list (the dataset objects file given to a post-annotation Lambda), from
the ``worker-answers`` list that :func:`post_annotation_handler` and :func:`write_manifest` put
into the label attribute, or from the ``annotationsFromAllWorkers`` list that AWS's sample
consolidation Lambda writes for custom jobs. Where worker answers are present they become one vote per worker
and the consolidated label is not imported (labelloop re-aggregates); otherwise the consolidated
label is one vote of source ``gt:<job name>``.

:func:`pre_annotation_handler` and :func:`post_annotation_handler` are Lambda entry points with
Ground Truth's event shapes; the post-annotation handler consolidates the workers' answers with
labelloop's aggregation engine (Dawid-Skene by default, ``LABELLOOP_AGGREGATOR`` to change).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError
from labelloop.io.formats._common import atomic_path, export_records, item_count, resolve_image
from labelloop.io.importers import Row, RowSource, _is_missing, _jsonable
from labelloop.progress import progress

ID_ATTR = "labelloop-id"
DEFAULT_ATTR = "labelloop"
WORKER_ANSWERS = "worker-answers"
_ANSWER_KEYS = ("label", "labels")


# ---------------------------------------------------------------------- answers
def answer_label(content: Any, where: str, path: Any = None) -> Any:
    """The label in one worker's ``annotationData.content`` (a JSON string or object).

    Accepts the built-in task UIs (``{"crowd-image-classifier": {"label": "cat"}}``,
    ``{"crowd-classifier-multi-select": {"labels": [...]}}``) and custom templates that name
    their field (``{"category": {"label": "x"}}`` or ``{"label": "x"}``).
    """
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: annotationData.content is not valid JSON ({exc.msg})", path=path) from None
    if not isinstance(content, dict):
        raise InputError(f"{where}: annotationData.content must be a JSON object", path=path)
    for k in _ANSWER_KEYS:
        if k in content:
            return _check_label(content[k], f"{where}: content.{k}", path)
    for name, v in content.items():
        if isinstance(v, dict):
            for k in _ANSWER_KEYS:
                if k in v:
                    return _check_label(v[k], f"{where}: content.{name}.{k}", path)
    raise InputError(f"{where}: annotationData.content has no 'label' or 'labels' ({json.dumps(content)[:120]})", path=path)


def _check_label(v: Any, where: str, path: Any) -> Any:
    if isinstance(v, list):
        if not all(isinstance(x, (str, int)) for x in v):
            raise InputError(f"{where}: expected a list of labels, got {v!r}", path=path)
        return [str(x) for x in v]
    if isinstance(v, (str, int)) and str(v).strip():
        return str(v)
    raise InputError(f"{where}: expected a label, got {v!r}", path=path)


def _worker_votes(answers: Any, where: str, path: Any) -> list[tuple]:
    if not isinstance(answers, list):
        raise InputError(f"{where}: expected a list of worker answers", path=path)
    out = []
    for j, a in enumerate(answers):
        w = f"{where}[{j}]"
        if not isinstance(a, dict) or _is_missing(a.get("workerId")):
            raise InputError(f"{w}: each answer needs a 'workerId'", path=path)
        data = a.get("annotationData")
        if not isinstance(data, dict) or "content" not in data:
            raise InputError(f"{w}: missing annotationData.content", path=path)
        conf = a.get("confidence")
        if conf is not None and not isinstance(conf, (int, float)):
            raise InputError(f"{w}.confidence: expected a number, got {conf!r}", path=path)
        out.append((str(a["workerId"]), str(a.get("sourceKind") or "human"), answer_label(data["content"], w, path),
                    None if conf is None else float(conf)))
    return out


# ---------------------------------------------------------------------- import
def _label_attribute(rec: dict[str, Any], wanted: str | None) -> str | None:
    if wanted:
        return wanted if (wanted in rec or f"{wanted}-metadata" in rec) else None
    for k in rec:
        if k.endswith("-metadata") and k[: -len("-metadata")]:
            return k[: -len("-metadata")]
    return None


def _consolidated(value: Any, meta: dict[str, Any], where: str, path: Path) -> Any:
    if isinstance(value, dict):  # written by a custom consolidation (ours): {"label"|"labels": ...}
        for k in _ANSWER_KEYS:
            if k in value:
                return _check_label(value[k], f"{where}.{k}", path)
        raise InputError(f"{where}: label object has no 'label' or 'labels'", path=path)
    if isinstance(value, list):  # multi-label: class indices + class-map
        cmap = meta.get("class-map")
        if not isinstance(cmap, dict):
            raise InputError(f"{where}-metadata: multi-label answers need a 'class-map'", path=path)
        try:
            return [str(cmap[str(int(i))]) for i in value]
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{where}: class index not in class-map {cmap}", path=path) from None
    if "class-name" in meta:
        return str(meta["class-name"])
    if isinstance(value, str) and value.strip():
        return value
    raise InputError(f"{where}-metadata: no 'class-name' for label {value!r}", path=path)


def read_manifest(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
                  image_col=None) -> RowSource:
    """Rows of an output manifest (JSON lines) or of a consolidation request (a JSON array of
    ``{datasetObjectId, dataObject, annotations}``). ``label_col`` picks the label attribute."""
    from labelloop.io.tables import iter_jsonl

    responses: dict[str, list[dict]] | None = None
    if path.is_dir():  # a labeling job's output folder: output manifest + worker responses
        manifests = sorted(path.glob("manifests/output/*.manifest"))
        if len(manifests) != 1:
            raise InputError("a Ground Truth job output folder holds manifests/output/output.manifest "
                             "(or give the manifest file itself)", path=path)
        responses = _worker_responses(path / "annotations" / "worker-response")
        path = manifests[0]
    with path.open("rb") as fh:
        head = fh.read(64).lstrip()
    is_request = head.startswith(b"[")
    image = project.data_type == "image"
    base = path.parent
    idk = id_col or ID_ATTR

    def records():
        if is_request:
            from labelloop.io.tables import load_json_records

            for n, rec in enumerate(load_json_records(path), start=1):
                obj = rec.get("dataObject")
                if not isinstance(obj, dict):
                    raise InputError(f"dataset object {n}: 'dataObject' must be an object", path=path)
                line = {**obj}
                if "content" in obj and "source" not in obj:
                    line["source"] = obj["content"]
                if "s3Uri" in obj and "source-ref" not in obj:
                    line["source-ref"] = obj["s3Uri"]
                line.setdefault(idk, rec.get("datasetObjectId"))
                yield n, f"dataset object {n}", line, rec.get("annotations")
        else:
            for n, rec in iter_jsonl(path):
                # worker responses are filed under the dataset object id: the 0-based line number
                yield n, f"line {n}", rec, None if responses is None else responses.get(str(n - 1))

    def rows():
        for n, where, rec, worker_list in records():
            ext = rec.get(idk)
            if _is_missing(ext):
                ext = rec.get("source-ref") if image else None
            if _is_missing(ext):
                if id_col:
                    raise InputError(f"{where}: no '{idk}' attribute to identify the item", path=path, line=n)
                ext = str(n)  # like a table without an id column: the line number
            ext = str(ext).strip()
            text = img = content = None
            key = (image_col or "source-ref") if image else (text_col or "source")
            ref = rec.get(key)
            if key not in rec or (ref is not None and _is_missing(ref)):
                what = "images need a 'source-ref'" if image else "text items need a 'source'"
                raise InputError(f"{where}: {what} attribute", path=path, line=n)
            if ref is not None and image:  # null: an item known only by its answers
                img = resolve_image(str(ref), base, where=f"{where}: {key}", path=path, line=n)
                content = Path(img).read_bytes()
            elif ref is not None:
                text = str(ref)
                content = text.encode("utf-8")
            attr = _label_attribute(rec, label_col)
            votes: list[tuple] = []
            if worker_list is not None:
                votes = _worker_votes(worker_list, f"{where}: annotations", path)
            elif attr is not None:
                meta = rec.get(f"{attr}-metadata") or {}
                if not isinstance(meta, dict):
                    raise InputError(f"{where}: '{attr}-metadata' must be an object", path=path, line=n)
                value = rec.get(attr)
                answers = meta.get(WORKER_ANSWERS)
                if answers is None and isinstance(value, dict):
                    # ours, or the annotationsFromAllWorkers of AWS's sample consolidation Lambda
                    answers = value.get(WORKER_ANSWERS, value.get("annotationsFromAllWorkers"))
                if answers is not None:
                    votes = _worker_votes(answers, f"{where}: {attr} worker-answers", path)
                elif value is not None and not meta.get("failure-reason"):
                    lab = _consolidated(value, meta, f"{where}: {attr}", path)
                    job = str(meta.get("job-name") or attr).rsplit("/", 1)[-1]
                    conf = meta.get("confidence")
                    votes = [(source_name or f"gt:{job}", "import", lab, float(conf) if isinstance(conf, (int, float)) else None)]
            if source_name and worker_list is not None:
                votes = [(f"{source_name}:{v[0]}", *v[1:]) for v in votes]
            skip = {idk, "source", "source-ref"} | ({attr, f"{attr}-metadata"} if attr else set())
            fields = {k: _jsonable(v) for k, v in rec.items() if k not in skip}
            yield Row(line=n, external_id=ext, text=text, image=img, fields=fields, votes=votes, content=content)

    return RowSource(rows=rows, allow_no_content=True, label="gt-manifest")


def _worker_responses(root: Path) -> dict[str, list[dict]]:
    """Per-worker answers of a built-in job: ``worker-response/iteration-N/<object id>/*.json``,
    each ``{"answers": [{"workerId", "answerContent", "timeSpentInSeconds", ...}]}``, as
    consolidation-style answers per dataset object id (a later iteration's answer of the same
    worker replaces an earlier one)."""
    out: dict[str, dict[str, dict]] = {}
    if not root.is_dir():
        return {}
    iterations = sorted(root.glob("iteration-*"), key=lambda p: int(p.name.split("-", 1)[1]) if p.name.split("-", 1)[1].isdigit() else 0)
    for it in iterations:
        for f in sorted(it.glob("*/*.json")):
            where = str(f.relative_to(root))
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"worker response is not valid JSON ({exc})", path=f) from None
            answers = data.get("answers") if isinstance(data, dict) else None
            if not isinstance(answers, list):
                raise InputError(f"{where}: expected {{\"answers\": [...]}}", path=f)
            for j, a in enumerate(answers):
                if not isinstance(a, dict) or _is_missing(a.get("workerId")) or "answerContent" not in a:
                    raise InputError(f"{where}: answers[{j}] needs 'workerId' and 'answerContent'", path=f)
                out.setdefault(f.parent.name, {})[str(a["workerId"])] = {
                    "workerId": str(a["workerId"]), "annotationData": {"content": a["answerContent"]}}
    return {oid: list(per.values()) for oid, per in out.items()}


# ---------------------------------------------------------------------- export
def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _answer(source: str, kind: str, label: Any, confidence: float | None) -> dict[str, Any]:
    key = "labels" if isinstance(label, list) else "label"
    a = {"workerId": source, "annotationData": {"content": json.dumps({key: label}, ensure_ascii=False)}}
    if kind != "human":
        a["sourceKind"] = kind
    if confidence is not None:
        a["confidence"] = float(confidence)
    return a


def write_manifest(project, out: Path, *, votes: bool = False, label_attribute: str = DEFAULT_ATTR,
                   top: int | None = None, unlabelled_only: bool = False, prelabels: bool = False, **_: Any) -> int:
    """Write a manifest to ``out``.

    Without ``votes``: an input manifest (``source`` / ``source-ref`` plus ``labelloop-id``), in
    queue order (highest priority first) when ``top`` is given, optionally only items without a
    final label; with ``prelabels`` each line carries the newest model prediction as
    ``labelloop-prelabel`` ``{label, confidence}`` (what :func:`pre_annotation_handler` reads to
    auto-accept). With ``votes``: an output manifest whose label attribute holds the final label
    (Ground Truth's built-in classification shape) and every vote as ``worker-answers``.
    """
    from sqlalchemy import select

    from labelloop.store.models import Item, Label

    schema = project.schema
    is_image = project.data_type == "image"
    job_type = f"groundtruth/{'image' if is_image else 'text'}-classification" + ("-multilabel" if schema.is_multi else "")
    created = _now()
    pre: dict[str, dict[str, Any]] = {}
    if prelabels:
        from labelloop.store import repo

        with project.session() as s:
            pf = repo.predictions_frame(s, project.id)
            if len(pf):
                ext = repo.items_frame(s, project.id, item_ids=pf["item_id"].tolist()).set_index("item_id")["external_id"]
                for iid, lab, conf, mv in zip(pf["item_id"], pf["label"], pf["confidence"], pf["model_version"], strict=True):
                    pre[str(ext[iid])] = {"label": _jsonable(lab), "confidence": float(conf), "model": str(mv)}
    n = 0
    if top is not None and not votes:
        with project.session() as s:
            q = select(Item.external_id, Item.text, Item.image).where(Item.project_id == project.id)
            if unlabelled_only:
                q = q.join(Label, Label.item_id == Item.id, isouter=True).where(Label.item_id.is_(None))
            q = q.order_by(Item.priority.desc(), Item.id).limit(int(top))
            records = [{"id": e, "text": t, "image": i} for e, t, i in s.execute(q)]
        total = len(records)
    else:
        records = export_records(project, votes=votes)
        total = item_count(project)
    bar = progress(total=total, desc=f"export {out.name}", unit="items")
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            if unlabelled_only and top is None and rec.get("label") is not None:
                continue
            line: dict[str, Any] = {"source-ref": rec.get("image")} if is_image else {"source": rec.get("text")}
            line[ID_ATTR] = rec["id"]
            if rec["id"] in pre:
                line["labelloop-prelabel"] = pre[rec["id"]]
            if votes:
                meta: dict[str, Any] = {"job-name": f"labeling-job/{label_attribute}", "type": job_type,
                                        "human-annotated": "yes" if any(v["kind"] in ("human", "gold") for v in rec["votes"]) else "no",
                                        "creation-date": created}
                lab = rec.get("label")
                if lab is not None:
                    if schema.is_multi:
                        idx = [schema.classes.index(t) if t in schema.classes else -1 for t in lab]
                        line[label_attribute] = idx
                        meta["class-map"] = {str(i): t for i, t in zip(idx, lab, strict=True)}
                        if rec.get("confidence") is not None:
                            meta["confidence-map"] = {str(i): float(rec["confidence"]) for i in idx}
                    else:
                        line[label_attribute] = schema.classes.index(lab) if lab in schema.classes else -1
                        meta["class-name"] = lab
                        if rec.get("confidence") is not None:
                            meta["confidence"] = float(rec["confidence"])
                meta[WORKER_ANSWERS] = [_answer(v["source"], v["kind"], v["label"], v.get("confidence")) for v in rec["votes"]]
                line[f"{label_attribute}-metadata"] = meta
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
            bar.update(1)
    bar.close()
    return n


# ---------------------------------------------------------------------- Lambda handlers
def pre_annotation_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Ground Truth pre-annotation Lambda: ``{"dataObject": {...}}`` -> ``{"taskInput", ...}``.

    The task input carries the text (``taskObject``) and every other attribute of the manifest
    line (our item id, a model pre-label). With ``LABELLOOP_AUTO_ACCEPT`` set (e.g. ``0.98``), a
    line whose ``labelloop-prelabel`` confidence reaches it skips human labelling.
    """
    if not isinstance(event, dict) or not isinstance(event.get("dataObject"), dict):
        raise InputError("pre-annotation event needs a 'dataObject' object")
    obj = event["dataObject"]
    task_object = obj.get("source-ref", obj.get("source"))
    if task_object is None:
        raise InputError("dataObject needs 'source' (text) or 'source-ref' (an object's URI)")
    task_input = {"taskObject": task_object, **{k: v for k, v in obj.items() if k not in ("source", "source-ref")}}
    required = True
    threshold = os.environ.get("LABELLOOP_AUTO_ACCEPT")
    pre = obj.get("labelloop-prelabel")
    if threshold and isinstance(pre, dict) and isinstance(pre.get("confidence"), (int, float)):
        required = float(pre["confidence"]) < float(threshold)
    return {"taskInput": task_input, "isHumanAnnotationRequired": "true" if required else "false"}


def _read_uri(uri: str) -> Any:
    """The JSON at a local path, a ``file://`` URI or an ``s3://`` URI (needs boto3)."""
    if uri.startswith("s3://"):
        from labelloop.exceptions import require

        boto3 = require("boto3", purpose="reading Ground Truth payloads from S3")
        bucket, key = uri[5:].split("/", 1)
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    p = Path(uri[len("file://") :] if uri.startswith("file://") else uri)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the consolidation payload: {exc}", path=p) from None


def consolidate(dataset_objects: list[dict[str, Any]], *, label_attribute: str, method: str = "ds",
                classes: list[str] | None = None, multi: bool | None = None) -> list[dict[str, Any]]:
    """Consolidate the workers' answers of a batch with labelloop's aggregation engine.

    ``dataset_objects``: Ground Truth's ``[{datasetObjectId, dataObject, annotations:
    [{workerId, annotationData: {content}}]}]``. Returns the post-annotation response
    ``[{datasetObjectId, consolidatedAnnotation: {content: {label_attribute: {...}}}}]``; each
    label object holds ``label`` (or ``labels``), ``confidence``, ``method`` and the
    ``worker-answers`` it was computed from.
    """
    import numpy as np
    import pandas as pd

    from labelloop.aggregate import get_aggregator

    if not isinstance(dataset_objects, list):
        raise InputError("the consolidation payload must be a JSON list of dataset objects")
    records, answers_by_obj = [], {}
    for n, obj in enumerate(dataset_objects, start=1):
        if not isinstance(obj, dict) or "datasetObjectId" not in obj:
            raise InputError(f"dataset object {n}: missing 'datasetObjectId'")
        oid = str(obj["datasetObjectId"])
        answers = obj.get("annotations") or []
        answers_by_obj[oid] = answers
        for w, kind, lab, _ in _worker_votes(answers, f"dataset object {n}: annotations", None):
            if kind == "human":
                records.append((oid, w, lab))
    is_multi = multi if multi is not None else any(isinstance(r[2], list) for r in records)
    result: dict[str, dict[str, Any]] = {}
    if records and not is_multi:
        df = pd.DataFrame(records, columns=["task", "worker", "label"])
        from labelloop.votes import VoteMatrix

        known = list(classes) if classes else None
        if known:
            extra = sorted(set(df["label"]) - set(known))
            known = known + extra
        vm = VoteMatrix.from_answers(df, classes=known)
        agg = get_aggregator(method).fit(vm)
        for item, lab, conf in zip(agg.items_, agg.labels_, agg.confidence_, strict=True):
            result[str(item)] = {"label": _jsonable(lab), "confidence": float(conf)}
    elif records:
        from labelloop.votes import MultiLabelVotes

        ml = MultiLabelVotes.from_tag_sets([(o, w, lab if isinstance(lab, list) else [lab]) for o, w, lab in records],
                                           tags=classes or None)
        chosen: dict[str, list[str]] = {str(i): [] for i in ml.items}
        conf: dict[str, list[float]] = {str(i): [] for i in ml.items}
        for tag, vm in ml.per_tag.items():
            if vm.labels.max(initial=0) == 0:
                continue  # nobody chose this tag
            agg = get_aggregator(method).fit(vm)
            p1 = np.asarray(agg.probas_)[:, list(agg.classes_).index(1)] if 1 in list(agg.classes_) else np.zeros(len(agg.items_))
            for item, p in zip(agg.items_, p1, strict=True):
                if p >= 0.5:
                    chosen[str(item)].append(tag)
                conf[str(item)].append(max(p, 1 - p))
        for item in chosen:
            result[item] = {"labels": sorted(chosen[item]), "confidence": float(min(conf[item], default=1.0))}
    out = []
    for oid, answers in answers_by_obj.items():
        body = dict(result.get(oid, {"label": None, "confidence": 0.0}))
        body["method"] = method
        body[WORKER_ANSWERS] = answers
        out.append({"datasetObjectId": oid, "consolidatedAnnotation": {"content": {label_attribute: body}}})
    return out


def make_post_annotation_handler(*, method: str | None = None, read: Callable[[str], Any] = _read_uri):
    """A post-annotation Lambda handler; ``read`` loads the payload (S3 by default)."""

    def handler(event: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
        if not isinstance(event, dict):
            raise InputError("post-annotation event must be an object")
        uri = (event.get("payload") or {}).get("s3Uri")
        attr = event.get("labelAttributeName")
        if not uri or not attr:
            raise InputError("post-annotation event needs 'payload.s3Uri' and 'labelAttributeName'")
        cats = event.get("labelCategories")
        return consolidate(read(uri), label_attribute=attr, method=method or os.environ.get("LABELLOOP_AGGREGATOR", "ds"),
                           classes=list(cats) if isinstance(cats, list) and cats else None)

    return handler


post_annotation_handler = make_post_annotation_handler()
