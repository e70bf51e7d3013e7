"""Feed checkpoints: `_local/bookkeeper-<consumer>` in each database (not replicated, not in `_changes`).

The seq is stored as opaque JSON (an int on PouchDB Server, a string on CouchDB 3) and validated on read: a
malformed `since` silently yields an empty feed on PouchDB Server, so a corrupt checkpoint restarts from 0
instead (safe: the engine is idempotent) and is logged. So is a checkpoint ahead of the database (its seq's number
beyond the database's `update_seq`: written by someone else, or left from a database that was since recreated or
restored from a backup), which would otherwise skip every change until the database caught up with it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bookkeeper.couch import Database

log = logging.getLogger(__name__)

_SEQ = re.compile(r"^\d+(-[A-Za-z0-9_\-]+)?$")


def checkpoint_id(consumer: str) -> str:
    return f"_local/bookkeeper-{consumer}"


def valid_seq(seq) -> bool:
    """An int ≥ 0 or a CouchDB seq string (`"12-g1AAAA..."`); never `"now"`, a bool or garbage."""
    if isinstance(seq, bool):
        return False
    if isinstance(seq, int):
        return seq >= 0
    return isinstance(seq, str) and bool(_SEQ.match(seq))


def seq_number(seq) -> int:
    """The numeric part of a seq, for lag metrics only (never for deciding what to read)."""
    if isinstance(seq, int) and not isinstance(seq, bool):
        return seq
    if isinstance(seq, str):
        head = seq.split("-", 1)[0]
        return int(head) if head.isdigit() else 0
    return 0


@dataclass
class Checkpoint:
    """Where a consumer stands in one database: `seq` handled up to, `rev` of the `_local` doc (None: unwritten)."""

    seq: object = 0
    rev: str | None = None


def read_checkpoint(db: Database, consumer: str) -> Checkpoint:
    doc = db.get_or_none(checkpoint_id(consumer))
    if doc is None:
        return Checkpoint()
    if not valid_seq(doc.get("seq")):
        log.warning("corrupt checkpoint %s in %s: seq %r; restarting from 0", doc["_id"], db.name, doc.get("seq"))
        return Checkpoint(0, doc.get("_rev"))
    head = db.info().get("update_seq")
    if seq_number(doc["seq"]) > seq_number(head):
        log.warning(
            "checkpoint %s in %s is ahead of the database (seq %s, the database is at %s); restarting from 0",
            doc["_id"],
            db.name,
            _short(doc["seq"]),
            _short(head),
        )
        return Checkpoint(0, doc.get("_rev"))
    return Checkpoint(doc["seq"], doc.get("_rev"))


def _short(seq) -> str:
    text = str(seq)
    return text if len(text) <= 24 else text[:21] + "..."


def write_checkpoint(db: Database, consumer: str, checkpoint: Checkpoint, seq, worker: str = "") -> Checkpoint:
    """Store `seq`; on a conflict (another worker wrote meanwhile) the last writer wins: at worst changes are
    delivered again, never skipped, because each writer has handled everything up to its own seq."""
    doc = {"seq": seq, "worker": worker, "updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    known = {"_id": checkpoint_id(consumer), "_rev": checkpoint.rev} if checkpoint.rev else None
    written = db.update(checkpoint_id(consumer), lambda _: doc, current=known)
    return Checkpoint(seq, written["_rev"] if written else None)
