"""Amazon Mechanical Turk: batch input CSV out, results CSV in.

A *batch input* CSV has one column per template variable (``id``, ``text`` or ``image_url``);
MTurk's *results* CSV (one row per assignment) repeats them as ``Input.<name>`` and holds the
worker (``WorkerId``), the status (``AssignmentStatus``) and the answers (``Answer.<name>``).

Answers are read from one ``Answer.`` column (``Answer.label``, the JSON ``Answer.taskAnswers``
that crowd-html templates submit, a crowd-classifier's
``Answer.category.label``, a multi-select's JSON list ``Answer.category.labels``; choose with
``--label-col``) or from radio/checkbox columns ``Answer.<name>.<class>`` holding ``true`` /
``false`` (or ``{"on": true}``). Rejected assignments are skipped. The item id is ``Input.id``
(or ``--id-col``), else ``HITId``.

Export writes a batch input CSV; with ``votes`` a results CSV with one row per vote (plus ``labelloop:source_kind`` and
``labelloop:confidence`` columns), which imports back into the same votes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError, MissingColumnError
from labelloop.io.formats._common import (
    atomic_path,
    chosen_keys,
    export_records,
    item_count,
    label_cell,
    parse_json_cell,
    resolve_image,
)
from labelloop.io.formats.toloka import _conf
from labelloop.io.importers import Row, RowSource, _is_missing
from labelloop.progress import progress

KIND_COL = "labelloop:source_kind"
CONF_COL = "labelloop:confidence"
TRUE = {"true", "1", "yes", "on", '{"on":true}', '{"on": true}'}


def read_mturk(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
               image_col=None) -> RowSource:
    from labelloop.io.tables import columns_of, iter_records

    if path.is_dir():
        raise InputError("an MTurk results file is a CSV file, not a folder", path=path)
    fmt = "tsv" if path.suffix.lower() in (".tsv", ".tab") else "csv"
    cols = columns_of(path, fmt)
    if "WorkerId" not in cols:
        raise MissingColumnError(f"no 'WorkerId' column (is this a batch input file rather than a results file?); columns: {', '.join(cols)}", path=path)
    answers = [c for c in cols if c.startswith("Answer.")]
    single_col, bool_cols = None, {}
    if label_col:
        want = label_col if label_col.startswith("Answer.") else f"Answer.{label_col}"
        if want in cols:
            single_col = want
        else:
            bool_cols = {c[len(want) + 1 :]: c for c in answers if c.startswith(want + ".")}
            if not bool_cols:
                raise MissingColumnError(f"no column '{want}' (nor '{want}.<class>'); Answer columns: {', '.join(answers) or 'none'}", path=path)
    elif len(answers) == 1:
        single_col = answers[0]
    elif not answers:
        raise MissingColumnError(f"no Answer. column; columns: {', '.join(cols)}", path=path)
    else:
        groups = {c.rsplit(".", 1)[0] for c in answers}
        if len(groups) == 1 and all(c.count(".") >= 2 for c in answers):
            g = groups.pop()
            bool_cols = {c[len(g) + 1 :]: c for c in answers}
        else:
            raise MissingColumnError(f"several Answer columns ({', '.join(answers)}); choose one with --label-col", path=path)
    idc = f"Input.{id_col}" if id_col and f"Input.{id_col}" in cols else (id_col or ("Input.id" if "Input.id" in cols else "HITId"))
    if idc not in cols:
        raise MissingColumnError(f"no id column '{idc}'; pass --id-col (an Input field)", path=path)
    image = project.data_type == "image"
    want_c = image_col if image else text_col
    cands = [want_c] if want_c else (["image_url", "image", "url", "img"] if image else ["text", "title", "content", "body"])
    content_col = next((f"Input.{c}" for c in cands if f"Input.{c}" in cols), None)
    has_kind = KIND_COL in cols
    has_conf = CONF_COL in cols
    base = path.parent

    def rows():
        for line, rec in iter_records(path, fmt):
            if _is_missing(rec.get(idc)):
                raise InputError(f"empty item id in column '{idc}'", path=path, line=line)
            ext = str(rec[idc]).strip()
            status = str(rec.get("AssignmentStatus") or "").strip().lower()
            votes: list[tuple] = []
            if status != "rejected":
                if single_col == "Answer.taskAnswers":
                    value = None if _is_missing(rec.get(single_col)) else _task_answers(rec[single_col], schema.is_multi, ext, path, line)
                elif single_col:
                    ans = rec.get(single_col)
                    value = None if _is_missing(ans) else parse_json_cell(ans)
                else:
                    chosen = [cls for cls, c in bool_cols.items() if str(rec.get(c) or "").strip().lower() in TRUE]
                    value = chosen if schema.is_multi else (chosen[0] if len(chosen) == 1 else None)
                    if not schema.is_multi and len(chosen) > 1:
                        raise InputError(f"item '{ext}': several answers {chosen} in a single-label project", path=path, line=line)
                if value is not None and value != []:
                    w = rec.get("WorkerId")
                    if _is_missing(w):
                        raise InputError(f"item '{ext}': empty WorkerId for an answer", path=path, line=line)
                    kind = str(rec.get(KIND_COL) or "human").strip() if has_kind else "human"
                    votes.append((f"{source_name}:{w}" if source_name else str(w).strip(), kind, value,
                                  _conf(rec.get(CONF_COL), path, line) if has_conf else None))
            text = img = content = None
            if content_col is not None and not _is_missing(rec.get(content_col)):
                if image:
                    img = resolve_image(str(rec[content_col]), base, where=f"item '{ext}': {content_col}", path=path, line=line)
                    content = Path(img).read_bytes()
                else:
                    text = str(rec[content_col])
                    content = text.encode("utf-8")
            fields = {k[len("Input.") :]: v for k, v in rec.items() if k.startswith("Input.") and k not in (idc, content_col)}
            yield Row(line=line, external_id=ext, text=text, image=img, fields=fields, votes=votes, content=content)

    return RowSource(rows=rows, per_item_unique=False, allow_no_content=True, label="mturk")


def _task_answers(cell: str, multi: bool, ext: str, path, line):
    """``Answer.taskAnswers``: the JSON list crowd-html templates submit, e.g.
    ``[{"category": {"label": "cat"}}]`` or ``[{"animal": {"cat": true, "dog": false}}]``."""
    from labelloop.io.formats.groundtruth import answer_label

    where = f"item '{ext}': Answer.taskAnswers"
    try:
        data = json.loads(cell)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not valid JSON ({exc.msg})", path=path, line=line) from None
    if isinstance(data, list):
        if len(data) != 1 or not isinstance(data[0], dict):
            raise InputError(f"{where}: expected a list with one object", path=path, line=line)
        data = data[0]
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected an object", path=path, line=line)
    for v in data.values():
        keys = chosen_keys(v)
        if keys is not None:
            if not multi and len(keys) != 1:
                raise InputError(f"{where}: {len(keys)} classes chosen {keys} in a single-label project", path=path, line=line)
            return keys if multi else keys[0]
    return answer_label(data, where, path)


def write_mturk(project, out: Path, *, votes: bool = False, answer: str = "label", **_: Any) -> int:
    """Write an MTurk batch input CSV (or, with ``votes``, a results CSV) to ``out``."""
    is_image = project.data_type == "image"
    cname = "image_url" if is_image else "text"
    key = "image" if is_image else "text"
    n = 0
    bar = progress(total=item_count(project), desc=f"export {out.name}", unit="items")
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        if votes:
            w.writerow(["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "Input.id", f"Input.{cname}", f"Answer.{answer}", KIND_COL, CONF_COL])
        else:
            w.writerow(["id", cname])
        for rec in export_records(project, votes=votes):
            content = rec.get(key) or ""
            if votes:
                for j, v in enumerate(rec["votes"]):
                    w.writerow([f"hit-{rec['id']}", f"{rec['id']}-{j}", v["source"], "Approved", rec["id"], content,
                                label_cell(v["label"]), v["kind"], "" if v.get("confidence") is None else repr(float(v["confidence"]))])
            else:
                w.writerow([rec["id"], content])
            n += 1
            bar.update(1)
    bar.close()
    return n

