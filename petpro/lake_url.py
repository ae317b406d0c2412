"""Lake and warehouse locations given as URLs, opened as pyarrow filesystems.

``PETPRO_LAKE_URL`` (and the Spark warehouse URL) may be a plain path, ``file:///…``, or an
object-store URL (``s3://bucket/prefix``, ``gs://…``, ``abfs://…``, ``hdfs://…``). One
function turns any of them into a pyarrow filesystem and a path inside it, so that the code
reading or writing Parquet (the publication from Spark; ingestion when it moves to object
storage) never parses URLs itself. Hadoop's scheme aliases that Spark uses (``s3a``,
``s3n``) name the same buckets as ``s3``. Credentials come from the environment, as
pyarrow's filesystems read them (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, …).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from petpro.errors import PetProError

# Spark/Hadoop spellings of object stores pyarrow knows under another scheme.
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}


class LakeUrlError(PetProError, ValueError):
    """A lake or warehouse URL names a scheme or location that cannot be opened."""


def is_local(url: str) -> bool:
    """True for a plain path or a ``file://`` URL."""
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/"))


def local_path(url: str) -> Path:
    """The absolute local path of a plain path or ``file://`` URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise LakeUrlError(f"{url!r}: a file:// URL names no host (use file:///abs/path)")
        return Path(parsed.path).resolve()
    return Path(url).expanduser().resolve()


def canonical_url(url: str) -> str:
    """``url`` with Hadoop's scheme aliases replaced by the scheme pyarrow knows."""
    scheme = urlparse(url).scheme
    alias = _SCHEME_ALIASES.get(scheme)
    return url.replace(f"{scheme}://", f"{alias}://", 1) if alias else url


def filesystem_and_path(url: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for ``url`` (nothing is read)."""
    if is_local(url):
        return pafs.LocalFileSystem(), str(local_path(url))
    try:
        return pafs.FileSystem.from_uri(canonical_url(url))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise LakeUrlError(
            f"cannot open {url!r} ({exc}); use a local path, file:///…, s3://, gs://, abfs:// "
            "or hdfs://"
        ) from exc
