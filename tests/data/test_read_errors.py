"""A file its reader cannot parse is a ValueError naming the file, the format and the fix."""

from __future__ import annotations

import pytest

import ember
from ember import data

pytestmark = pytest.mark.usefixtures("session")

GARBAGE = {
    "parquet": (data.read_parquet, "a.parquet", b"not parquet at all\n"),
    "csv": (data.read_csv, "a.csv", b'a,b\n1,2,3,4\n'),
    "json": (data.read_json, "a.json", b'{"a": 1}\n{broken\n'),
    "numpy": (data.read_numpy, "a.npy", b"garbage\n"),
}


@pytest.mark.parametrize("file_format", list(GARBAGE))
def test_a_garbage_file_names_itself_and_the_fix(file_format, tmp_path):
    reader, name, content = GARBAGE[file_format]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as failed:
        reader(str(path)).take_all()
    message = str(failed.value)
    assert f"cannot read {path} as {file_format}" in message
    assert "read_parquet/read_csv/read_json/read_numpy" in message
    assert not isinstance(failed.value, ember.exceptions.TaskError) or \
        isinstance(failed.value, ValueError)
    assert data.range(3).count() == 3  # the engine keeps working


def test_a_garbage_file_among_good_ones_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "good.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"oops")
    with pytest.raises(ValueError, match=r"bad\.parquet as parquet"):
        data.read_parquet(str(tmp_path)).take_all()
