import pytest

from labelloop.exceptions import EmptyInputError, InputError
from labelloop.io.tables import iter_records, read_table


def _w(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_csv_rows_carry_physical_line_numbers(tmp_path):
    p = _w(tmp_path, "a.csv", b'id,text\n1,"multi\nline"\n2,plain\n')
    rows = list(iter_records(p, "csv"))
    assert [line for line, _ in rows] == [2, 4]
    assert rows[0][1] == {"id": "1", "text": "multi\nline"}


def test_malformed_csv_row_names_file_and_line(tmp_path):
    p = _w(tmp_path, "a.csv", b"id,text\n1,ok\n2,too,many\n")
    with pytest.raises(InputError) as err:
        list(iter_records(p, "csv"))
    assert err.value.line == 3 and "a.csv:3" in str(err.value) and "expected 2 fields" in str(err.value)


def test_invalid_utf8_names_line(tmp_path):
    p = _w(tmp_path, "a.csv", b"id,text\n1,ok\n2,caf\xe9\n")
    with pytest.raises(InputError, match=r"a.csv:3: invalid UTF-8"):
        list(iter_records(p, "csv"))


def test_bom_is_ignored_and_tsv_works(tmp_path):
    p = _w(tmp_path, "a.tsv", "\ufeffid\ttext\n1\thello\n".encode())
    assert list(iter_records(p, "tsv")) == [(2, {"id": "1", "text": "hello"})]


def test_empty_and_header_only(tmp_path):
    with pytest.raises(EmptyInputError):
        list(iter_records(_w(tmp_path, "e.csv", b""), "csv"))
    with pytest.raises(EmptyInputError, match="header but no rows"):
        read_table(_w(tmp_path, "h.csv", b"task,worker,label\n"))


def test_duplicate_header(tmp_path):
    with pytest.raises(InputError, match="duplicate column names"):
        list(iter_records(_w(tmp_path, "d.csv", b"id,id\n1,2\n"), "csv"))


def test_jsonl_errors_and_records(tmp_path):
    p = _w(tmp_path, "a.jsonl", b'{"id": 1}\n\n{"id": 2\n')
    it = iter_records(p, "jsonl")
    assert next(it) == (1, {"id": 1})
    with pytest.raises(InputError, match=r"a.jsonl:3: malformed JSON"):
        next(it)
    with pytest.raises(InputError, match="expected a JSON object"):
        list(iter_records(_w(tmp_path, "b.jsonl", b"[1,2]\n"), "jsonl"))


def test_json_array_and_wrapped(tmp_path):
    assert [r for _, r in iter_records(_w(tmp_path, "a.json", b'[{"id": 1}]'), "json")] == [{"id": 1}]
    assert [r for _, r in iter_records(_w(tmp_path, "b.json", b'{"items": [{"id": 2}]}'), "json")] == [{"id": 2}]
    with pytest.raises(InputError, match=r"c.json:2: malformed JSON"):
        list(iter_records(_w(tmp_path, "c.json", b'[\n{"id": }]'), "json"))


def test_parquet_streams(tmp_path):
    import pandas as pd

    p = tmp_path / "a.parquet"
    pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"]}).to_parquet(p)
    assert [r["text"] for _, r in iter_records(p, "parquet")] == ["a", "b", "c"]
    bad = _w(tmp_path, "bad.parquet", b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet"):
        list(iter_records(bad, "parquet"))
