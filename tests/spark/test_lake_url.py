"""Lake URLs (PETPRO_LAKE_URL, the Spark warehouse URL) become pyarrow filesystems.

Only local URLs are opened here (no network in tests): a plain path and ``file://`` read the
same Parquet dataset; Hadoop's ``s3a`` spelling is mapped to pyarrow's ``s3``; a scheme
pyarrow has no filesystem for is refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from petpro.lake_url import LakeUrlError, canonical_url, filesystem_and_path, is_local


def test_plain_paths_and_file_urls_open_the_same_local_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "activities" / "event_date=2025-03-30"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a", "b"]}), folder / "data.parquet")
    for url in (str(tmp_path / "raw" / "activities"), (tmp_path / "raw" / "activities").as_uri()):
        assert is_local(url)
        fs, path = filesystem_and_path(url)
        table = ds.dataset(path, filesystem=fs, partitioning="hive").to_table()
        assert sorted(table.column("id").to_pylist()) == ["a", "b"]
        assert table.column("event_date").to_pylist()[0] is not None


def test_hadoop_scheme_aliases_name_the_same_object_store() -> None:
    assert canonical_url("s3a://bucket/lake") == "s3://bucket/lake"
    assert canonical_url("s3n://bucket/lake") == "s3://bucket/lake"
    assert canonical_url("gs://bucket/lake") == "gs://bucket/lake"
    assert not is_local("s3://bucket/lake")


def test_an_unknown_scheme_is_refused_in_one_line() -> None:
    with pytest.raises(LakeUrlError, match="cannot open 'ftp2://host/lake'"):
        filesystem_and_path("ftp2://host/lake")
    with pytest.raises(LakeUrlError, match="file:///abs/path"):
        filesystem_and_path("file://otherhost/lake")
