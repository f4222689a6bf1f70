"""Toloka: task files out (``INPUT:`` / ``GOLDEN:`` / ``HINT:``), result files in.

A Toloka *task file* is a TSV with one column per input field (``INPUT:text``) and, for control
tasks (honeypots), the known answer (``GOLDEN:label``) and a hint (``HINT:text``). A *result
file* (what "Download results" gives) has one row per assignment with ``INPUT:`` columns, the
worker's answer in ``OUTPUT:<field>``, ``GOLDEN:<field>`` for control tasks and
``ASSIGNMENT:worker_id``, ``ASSIGNMENT:status`` ... columns.

Import reads result files: one vote per accepted/submitted assignment (source = the worker id),
and one ``gold`` vote per item with a ``GOLDEN:`` answer. A task file (no ``OUTPUT:`` column)
gives the items and the ``gold`` votes of its control tasks. The item id is ``INPUT:id`` (or
``--id-col``), else ``ASSIGNMENT:task_id``.

Export writes a task file (with ``GOLDEN:``/``HINT:`` for items that have a gold vote); with
``votes`` it writes a result file with one row per vote (plus ``labelloop:source_kind`` and
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
from labelloop.io.importers import Row, RowSource, _is_missing
from labelloop.progress import progress

KIND_COL = "labelloop:source_kind"
CONF_COL = "labelloop:confidence"
SKIP_STATUS = {"REJECTED", "SKIPPED", "EXPIRED"}
OUT_FIELD = "label"


def read_toloka(path: Path, *, project, schema, source_name=None, id_col=None, text_col=None, label_col=None,
                image_col=None) -> RowSource:
    from labelloop.io.tables import columns_of, iter_records

    if path.is_dir():
        raise InputError("a Toloka result file is a TSV file, not a folder", path=path)
    fmt = "csv" if path.suffix.lower() == ".csv" else "tsv"
    cols = columns_of(path, fmt)
    outs = [c for c in cols if c.startswith("OUTPUT:")]
    goldens = [c for c in cols if c.startswith("GOLDEN:")]
    if not any(c.startswith("INPUT:") for c in cols):
        raise MissingColumnError(f"no INPUT: column; Toloka task and result files have them; columns: {', '.join(cols)}", path=path)
    task_file = not outs  # a task file: items, and gold answers of the control tasks
    if label_col:
        field = label_col.split(":", 1)[1] if label_col.startswith(("OUTPUT:", "GOLDEN:")) else label_col
        if f"OUTPUT:{field}" not in cols and not (task_file and f"GOLDEN:{field}" in cols):
            raise MissingColumnError(f"no column 'OUTPUT:{field}'; OUTPUT columns are: {', '.join(outs) or 'none'}", path=path)
    elif len(outs) == 1:
        field = outs[0].split(":", 1)[1]
    elif task_file:
        if len(goldens) > 1:
            raise MissingColumnError(f"several GOLDEN columns ({', '.join(goldens)}); choose one with --label-col", path=path)
        field = goldens[0].split(":", 1)[1] if goldens else None
    else:
        raise MissingColumnError(f"several OUTPUT columns ({', '.join(outs)}); choose one with --label-col", path=path)
    out_col = None if task_file else f"OUTPUT:{field}"
    gold_col = f"GOLDEN:{field}" if field and f"GOLDEN:{field}" in cols else None
    if not task_file and "ASSIGNMENT:worker_id" not in cols:
        raise MissingColumnError("no 'ASSIGNMENT:worker_id' column; Toloka result files have one", path=path)
    idc = f"INPUT:{id_col}" if id_col and f"INPUT:{id_col}" in cols else (id_col or ("INPUT:id" if "INPUT:id" in cols else "ASSIGNMENT:task_id"))
    if idc not in cols:
        raise MissingColumnError(f"no id column '{idc}'; pass --id-col (an INPUT field)", path=path)
    image = project.data_type == "image"
    want_c = image_col if image else text_col
    cands = [want_c] if want_c else (["image", "image_url", "url", "img"] if image else ["text", "title", "content", "body"])
    content_col = next((f"INPUT:{c}" for c in cands if f"INPUT:{c}" in cols), None)
    has_kind = KIND_COL in cols
    has_conf = CONF_COL in cols
    base = path.parent

    def rows():
        golds: set[str] = set()
        for line, rec in iter_records(path, fmt):
            if _is_missing(rec.get(idc)):
                raise InputError(f"empty item id in column '{idc}'", path=path, line=line)
            ext = str(rec[idc]).strip()
            status = str(rec.get("ASSIGNMENT:status") or "").strip().upper()
            votes: list[tuple] = []
            if out_col is not None and status not in SKIP_STATUS:
                w = rec.get("ASSIGNMENT:worker_id")
                ans = rec.get(out_col)
                if not _is_missing(ans):
                    if _is_missing(w):
                        raise InputError(f"item '{ext}': empty ASSIGNMENT:worker_id for an answer", path=path, line=line)
                    kind = str(rec.get(KIND_COL) or "human").strip() if has_kind else "human"
                    src = f"{source_name}:{w}" if source_name else str(w).strip()
                    votes.append((src, kind, _answer(ans, schema.is_multi, path, line), _conf(rec.get(CONF_COL), path, line) if has_conf else None))
            if gold_col and not has_kind and not _is_missing(rec.get(gold_col)) and ext not in golds:
                golds.add(ext)
                votes.append(("gold", "gold", parse_json_cell(rec[gold_col])))
            text = img = None
            content = None
            if content_col is not None and not _is_missing(rec.get(content_col)):
                if image:
                    img = resolve_image(str(rec[content_col]), base, where=f"item '{ext}': {content_col}", path=path, line=line)
                    content = Path(img).read_bytes()
                else:
                    text = str(rec[content_col])
                    content = text.encode("utf-8")
            fields = {k.split(":", 1)[1]: v for k, v in rec.items() if k.startswith("INPUT:") and k not in (idc, content_col)}
            yield Row(line=line, external_id=ext, text=text, image=img, fields=fields, votes=votes, content=content)

    return RowSource(rows=rows, per_item_unique=task_file, allow_no_content=True, label="toloka")


def _answer(value, multi: bool, path, line):
    """An OUTPUT cell: a class, a JSON list of tags, or checkboxes ``{"cat": true, ...}``."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            keys = chosen_keys(json.loads(value))
        except json.JSONDecodeError:
            keys = None
        if keys is None:
            raise InputError(f"OUTPUT value {value[:80]!r} is an object but not checkboxes {{class: true/false}}", path=path, line=line)
        if not multi and len(keys) != 1:
            raise InputError(f"{len(keys)} classes chosen {keys} in a single-label project", path=path, line=line)
        return keys if multi else keys[0]
    return parse_json_cell(value)


def _conf(v, path, line):
    if _is_missing(v):
        return None
    try:
        return float(v)
    except ValueError:
        raise InputError(f"{CONF_COL} is not a number: {v!r}", path=path, line=line) from None


def write_toloka(project, out: Path, *, votes: bool = False, output_field: str = OUT_FIELD, **_: Any) -> int:
    """Write a Toloka task file (or, with ``votes``, a result file) as TSV to ``out``."""
    is_image = project.data_type == "image"
    cname = "image" if is_image else "text"
    n = 0
    bar = progress(total=item_count(project), desc=f"export {out.name}", unit="items")
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        if votes:
            w.writerow(["INPUT:id", f"INPUT:{cname}", f"OUTPUT:{output_field}", "ASSIGNMENT:worker_id", "ASSIGNMENT:status", KIND_COL, CONF_COL])
        else:
            w.writerow(["INPUT:id", f"INPUT:{cname}", f"GOLDEN:{output_field}", "HINT:text"])
        for rec in export_records(project, votes=True):
            content = rec.get(cname) or ""
            if votes:
                for v in rec["votes"]:
                    w.writerow([rec["id"], content, label_cell(v["label"]), v["source"], "APPROVED", v["kind"],
                                "" if v.get("confidence") is None else repr(float(v["confidence"]))])
            else:
                gold = next((v["label"] for v in rec["votes"] if v["kind"] == "gold"), None)
                hint = f"the answer is {', '.join(gold) if isinstance(gold, list) else gold}" if gold is not None else ""
                w.writerow([rec["id"], content, label_cell(gold), hint])
            n += 1
            bar.update(1)
    bar.close()
    return n

