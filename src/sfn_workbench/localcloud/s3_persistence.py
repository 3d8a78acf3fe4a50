"""Plugin: S3 objects outlive the server: saved in the state directory on stop, restored on start.

moto keeps every object in memory, so ``down`` then ``up`` used to erase the
uploads, captures and batch results. Now the server saves each bucket's objects
under ``<state_dir>/s3/<bucket>/`` when it stops (after the Lambda workers and
endpoint servers, which may still write captures as they stop) and puts them back
when it starts, before it serves a request:

* the latest version of each object, with its bytes, ETag (a multipart ETag
  included), Content-Type, user metadata and LastModified;
* restoring sends no event: objects under ``incoming/`` do not start executions again;
* buckets come back empty of configuration; ``up`` deploys the template, which
  configures the stack's own buckets again (encryption, policy, EventBridge);
* objects up to :data:`PACKED_MAX_BYTES` are saved together, end to end, in one file per
  bucket (thousands of small objects are one write, not thousands); larger objects get a
  file each, and saving them is incremental: one whose ETag and LastModified are unchanged
  is not written again.

What is not kept is in :data:`NOT_KEPT`. ``sfn-inference up --fresh`` starts empty.
No moto attribute is patched: the plugin reads and fills moto's S3 backend (imported
only by the server: the CLI reads the tallies without importing moto).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.deploy import ARTIFACTS_BUCKET

if TYPE_CHECKING:
    from sfn_workbench.localcloud import patches

PATCH_TARGETS: tuple[patches.Target, ...] = ()
DIR_NAME = "s3"
SAVED_FILE = "saved.json"
RESTORED_FILE = "restored.json"
#: Objects up to this size are saved together in one file per bucket, the pack; larger ones one file each.
PACKED_MAX_BYTES = 64 * 1024
PACK_FILE = "small.pack"
#: Rebuilt by every deploy (function code, model tarballs): not user data.
SKIPPED_BUCKETS = frozenset({ARTIFACTS_BUCKET})
#: What a stopped local cloud forgets, said by ``up``, ``down`` and the README.
NOT_KEPT = (
    "execution history (Step Functions), CloudWatch Logs events (the files under logs/ stay), "
    "older object versions and unfinished multipart uploads"
)
log = logging.getLogger("sfn_workbench.localcloud.s3_persistence")


@dataclass(frozen=True)
class Tally:
    buckets: int = 0
    objects: int = 0
    bytes: int = 0


def store_dir(state_dir: Path) -> Path:
    return state_dir / DIR_NAME


def read_tally(state_dir: Path, name: str) -> Tally | None:
    """What the last save (``saved.json``) or restore (``restored.json``) did, if it ran."""
    path = store_dir(state_dir) / name
    with contextlib.suppress(OSError, ValueError, TypeError):
        return Tally(**json.loads(path.read_text()))
    return None


def _backend(ctx: LocalCloudContext) -> Any:
    from moto.s3.models import s3_backends  # noqa: PLC0415

    return s3_backends[ctx.account_id]["aws"]


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def save(ctx: LocalCloudContext) -> Tally:
    """Write every bucket's latest objects under ``<state_dir>/s3`` (only what changed)."""
    root = store_dir(ctx.state_dir)
    root.mkdir(parents=True, exist_ok=True)
    buckets = {name: b for name, b in dict(_backend(ctx).buckets).items() if name not in SKIPPED_BUCKETS}
    total = Tally()
    for name, bucket in buckets.items():
        saved = _save_bucket(root / name, bucket)
        total = Tally(total.buckets + 1, total.objects + saved.objects, total.bytes + saved.bytes)
    for gone in (p for p in root.iterdir() if p.is_dir() and p.name not in buckets):
        shutil.rmtree(gone, ignore_errors=True)  # deleted while the cloud ran
    _write_atomic(root / SAVED_FILE, json.dumps(asdict(total)).encode())
    log.info("saved %d objects (%d bytes) in %d buckets to %s", total.objects, total.bytes, total.buckets, root)
    return total


def _save_bucket(directory: Path, bucket: Any) -> Tally:
    """Small objects go into one pack file (one write for thousands of them: ``down`` stays fast
    after a 10,000-key batch); larger ones get a file each, written only when they changed."""
    from moto.s3.models import FakeKey  # noqa: PLC0415

    objects = directory / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    index_path = directory / "index.json"
    on_disk = set(os.listdir(objects))
    previous: dict[str, dict[str, Any]] = {}
    if on_disk:  # what the last save said about the files it wrote: only they can be kept as they are
        with contextlib.suppress(OSError, ValueError):
            previous = json.loads(index_path.read_text())
    index: dict[str, dict[str, Any]] = {}
    small: dict[str, bytes] = {}
    size = 0
    for key_name, key in bucket.keys.items():
        if not isinstance(key, FakeKey):  # a delete marker: the object is gone
            continue
        entry: dict[str, Any] = {
            "etag": key.etag.strip('"'),
            "last_modified": key.last_modified.isoformat(),
            "metadata": dict(key.metadata),
            "size": key.size,
        }
        try:
            if key.size <= PACKED_MAX_BYTES:
                small[key_name] = key.value
            else:
                entry["file"] = _file_name(key_name)
                old = previous.get(key_name, {})
                unchanged = all(old.get(f) == entry[f] for f in ("etag", "last_modified", "size"))
                if not (unchanged and entry["file"] in on_disk):
                    _write_atomic(objects / entry["file"], key.value)
        except ValueError:  # replaced while saving: its buffer is closed, the newer version is in the bucket
            continue
        index[key_name] = entry
        size += key.size
    _write_pack(directory / PACK_FILE, small, index)
    for stale in on_disk - {entry["file"] for entry in index.values() if "file" in entry}:
        (objects / stale).unlink(missing_ok=True)  # deleted, packed now, or a partial write
    _write_atomic(index_path, json.dumps(index).encode())
    return Tally(1, len(index), size)


def _write_pack(path: Path, small: dict[str, bytes], index: dict[str, dict[str, Any]]) -> None:
    """All small objects, end to end, in one file; each index entry says where its bytes are."""
    offset = 0
    for key_name, body in small.items():
        index[key_name]["pack"] = [offset, len(body)]
        offset += len(body)
    if small:
        _write_atomic(path, b"".join(small.values()))
    else:
        path.unlink(missing_ok=True)


def restore(ctx: LocalCloudContext) -> Tally:
    """Put the saved buckets and objects back into moto's S3, without sending events."""
    root = store_dir(ctx.state_dir)
    backend = _backend(ctx)
    total = Tally()
    for directory in sorted(p for p in root.glob("*") if p.is_dir()) if root.exists() else []:
        try:
            index: dict[str, dict[str, Any]] = json.loads((directory / "index.json").read_text())
        except (OSError, ValueError):
            log.warning("no readable index in %s: its objects are not restored", directory)
            continue
        if directory.name not in backend.buckets:
            backend.create_bucket(directory.name, ctx.region)
        restored = 0
        size = 0
        pack = (directory / PACK_FILE).read_bytes() if (directory / PACK_FILE).exists() else b""
        for key_name, entry in index.items():
            body = _saved_bytes(directory, entry, pack)
            if body is None:
                log.warning("s3://%s/%s: its saved bytes are missing, not restored", directory.name, key_name)
                continue
            key = backend.put_object(directory.name, key_name, body, etag=entry["etag"], disable_notification=True)
            key.set_metadata(dict(entry["metadata"]))
            key.last_modified = datetime.fromisoformat(entry["last_modified"])
            restored += 1
            size += entry["size"]
        total = Tally(total.buckets + 1, total.objects + restored, total.bytes + size)
    root.mkdir(parents=True, exist_ok=True)
    _write_atomic(root / RESTORED_FILE, json.dumps(asdict(total)).encode())
    log.info("restored %d objects in %d buckets from %s", total.objects, total.buckets, root)
    return total


def _saved_bytes(directory: Path, entry: dict[str, Any], pack: bytes) -> bytes | None:
    if "pack" in entry:
        offset, length = entry["pack"]
        body = pack[offset : offset + length]
        return body if len(body) == length == entry["size"] else None
    path = directory / "objects" / entry["file"]
    return path.read_bytes() if path.exists() else None


def install(ctx: LocalCloudContext) -> None:
    """Restore now, before the server answers; the server calls :func:`save` when it stops."""
    restore(ctx)
