"""Streaming readers for tabular files: CSV, TSV, JSON, JSONL, Parquet.

Readers yield ``(line, record)`` pairs one at a time so that a million rows never sit in memory.
``line`` is the physical line number where the record starts (row number for Parquet and JSON
arrays), used in every error message. Invalid UTF-8 and malformed rows raise ``InputError``
naming the file and line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError

TABLE_FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
_EXT = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

csv.field_size_limit(1 << 30)


def guess_format(path: Path) -> str | None:
    return _EXT.get(path.suffix.lower())


def _decoded_lines(path: Path, counter: list[int]) -> Iterator[str]:
    """Decode line by line so an invalid byte is reported with its line number."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            counter[0] = n
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); re-save the file as UTF-8", path=path, line=n) from None
            if n == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield line


def iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    counter = [0]
    reader = csv.reader(_decoded_lines(path, counter), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EmptyInputError("file is empty", path=path) from None
    except csv.Error as exc:
        raise InputError(f"malformed header: {exc}", path=path, line=1) from None
    header = [h.strip() for h in header]
    if not any(header):
        raise EmptyInputError("file has no header row", path=path, line=1)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"duplicate column names in header: {', '.join(dupes)}", path=path, line=1)
    width = len(header)
    start = counter[0] + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"malformed row: {exc}", path=path, line=counter[0]) from None
        line, start = start, counter[0] + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != width:
            raise InputError(f"expected {width} fields ({', '.join(header)}), found {len(row)}", path=path, line=line)
        yield line, dict(zip(header, row, strict=True))


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    counter = [0]
    for line in _decoded_lines(path, counter):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=counter[0]) from None
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object per line, got {type(rec).__name__}", path=path, line=counter[0])
        yield counter[0], rec


def load_json_records(path: Path, *, key: str | None = None) -> list[dict[str, Any]]:
    """A JSON array of objects (or an object holding one under ``items``/``data``/``key``).

    JSON arrays are parsed whole; use JSONL for inputs that do not fit in memory.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("invalid UTF-8; re-save the file as UTF-8", path=path, line=line) from None
    if not text.strip():
        raise EmptyInputError("file is empty", path=path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno) from None
    if isinstance(data, dict):
        for k in ([key] if key else []) + ["items", "data", "records", "tasks"]:
            if k and isinstance(data.get(k), list):
                data = data[k]
                break
    if not isinstance(data, list):
        raise InputError("expected a JSON array of objects", path=path)
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise InputError(f"record {i + 1} is a {type(rec).__name__}, expected an object", path=path)
    return data


def iter_json(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from enumerate(load_json_records(path), start=1)


def iter_parquet(path: Path, batch_size: int = 10_000) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None
    n = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for rec in batch.to_pylist():
            n += 1
            yield n, rec


def iter_records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if fmt == "csv":
        return iter_delimited(path, ",")
    if fmt == "tsv":
        return iter_delimited(path, "\t")
    if fmt == "jsonl":
        return iter_jsonl(path)
    if fmt == "json":
        return iter_json(path)
    if fmt == "parquet":
        return iter_parquet(path)
    raise InputError(f"unknown table format '{fmt}'; one of {', '.join(TABLE_FORMATS)}", path=path)


def columns_of(path: Path, fmt: str) -> list[str]:
    """Column names (header of delimited files, keys of the first record otherwise)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as exc:
            raise InputError(f"not a readable Parquet file: {exc}", path=path) from None
    for _, rec in iter_records(path, fmt):
        return list(rec.keys())
    if fmt in ("csv", "tsv"):
        counter = [0]
        first = next(_decoded_lines(path, counter), "")
        return next(csv.reader([first], delimiter="," if fmt == "csv" else "\t"), [])
    raise EmptyInputError("file has no records", path=path)


def read_table(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a whole (small) table into a DataFrame with the same checks as the streaming readers."""
    from labelloop.io.sources import local_path

    p = local_path(path)
    fmt = fmt or guess_format(p) or "csv"
    rows = [rec for _, rec in iter_records(p, fmt)]
    if not rows:
        cols = columns_of(p, fmt) if fmt in ("csv", "tsv") else []
        raise EmptyInputError("file has a header but no rows" if cols else "file is empty", path=p)
    df = pd.DataFrame.from_records(rows)
    # delimited files give strings: empty cells are missing values
    if fmt in ("csv", "tsv"):
        df = df.replace({"": None})
    return df
