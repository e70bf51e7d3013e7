"""How much one monthly DB holds, fast: the read path of the balance.

CouchDB keeps `_sum` reductions in its B-tree, so there a reduce over the `bookkeeper_ledger/by_time` view is
O(log n) and is the answer. PouchDB Server recomputes a reduce on every query (~0.09 ms per row), so there the
total is a checkpoint plus the tail of `_changes`:

* `_local/bookkeeper_total-<dialect>` holds `{since, units, latest, mac}`: the MODB's `_changes` seq, the units
  counted up to it (as KAZOO's balance view of the dialect counts them), the latest `pvt_created` of a
  non-carry entry, and an HMAC of those and the database's name under a key derived from the bookkeeper's
  CouchDB credentials. `_local` documents are not replicated and not in `_changes`, and anyone who may write
  the MODB may write them: a checkpoint whose MAC does not match (someone else wrote it, or other credentials)
  is not trusted; the month is recounted from its documents and the checkpoint rebuilt (logged).
* Money documents are append-only (the validate_doc_update), so the changes after `since` are exactly the new
  entries: total = units + what they add. A change that is not a first revision (an admin's edit or delete)
  means the checkpoint cannot be trusted: it is rebuilt from the whole feed, counting each document once.
* The checkpoint is saved once its tail has grown by `ADVANCE_AFTER` rows (a month without one is counted from
  its first change); a 409 there only means another process saved one first (any saved checkpoint is a true
  statement about its seq).
* The latest checkpoint counted is also kept in memory per MODB, so a long-running process reads only the
  `_changes` tail: what it remembers is as true as what is stored, whoever writes the MODB meanwhile.

Only valid money documents count (`documents.money_problem`); an invalid one is logged once per process with
its id and kept in `invalid` (the daemon's `invalid_money_documents` gauge). `ledger verify` compares this with
the full view reduction and a recount of every document.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading

from ..couch import Conflict, Couch, Database
from .documents import is_carry, is_money, money_problem, signed_units

log = logging.getLogger(__name__)

ADVANCE_AFTER = 100
PAGE = 5000
EMPTY_PEEK = 20  # `_changes` rows read to tell a month opened ahead is still empty
VIEW = ("bookkeeper_ledger", "by_time")


class MonthTotals:
    """Totals of monthly DBs in KAZOO units, counted as the dialect's balance view counts them."""

    def __init__(self, couch: Couch, dialect: str):
        self.couch, self.dialect = couch, dialect
        self.index = 0 if dialect == "4.3" else 1
        self.checkpoint_id = f"_local/bookkeeper_total-{dialect}"
        self._stored_reductions: bool | None = None
        self._memory: dict[str, dict] = {}  # MODB name -> the last checkpoint counted (with the stored `_rev`)
        auth = couch.session.auth  # (user, password), or an authenticator (IAM) whose secret is not ours to read
        user, password = auth if isinstance(auth, tuple) else ("", "")
        self._key = hashlib.sha256(f"couch-bookkeeper checkpoint\0{user}\0{password}".encode()).digest()
        self.invalid: dict[tuple[str, str], str] = {}  # (MODB, id) -> problem: invalid money documents seen
        self._invalid_lock = threading.Lock()
        self._invalid_counted: dict[str, int] = {}  # MODB -> invalid documents its view counted last

    @property
    def stored_reductions(self) -> bool:
        """True on CouchDB and Cloudant; False on PouchDB Server (`express-pouchdb` in its welcome)."""
        if self._stored_reductions is None:
            self._stored_reductions = "express-pouchdb" not in self.couch.info()
        return self._stored_reductions

    def units(self, db: Database, until: int | None = None) -> int:
        """The units in `db`; with `until` (Gregorian seconds), only entries created up to then (carry-forwards
        always count: they hold from the month's first second)."""
        if self.stored_reductions:
            return 0 if self._still_empty(db) else self.view_units(db, until)
        units, latest = self._checkpointed(db)
        if until is None or until >= latest:
            return units
        return self.view_units(db, until)

    def written_since(self, db: Database, since: int) -> bool:
        """Whether a non-carry entry may have been created at or after `since` (Gregorian seconds): on PouchDB
        Server from the checkpoint's `latest` (the read a balance makes anyway, then remembered); True on CouchDB,
        where the view is what answers cheaply."""
        return self.stored_reductions or self._checkpointed(db)[1] >= since

    def view_units(self, db: Database, until: int | None = None) -> int:
        """The reduce of the time-keyed view (the whole month, or up to `until`). A row means the month holds a
        document someone wrote: it is no longer `untouched` (an empty view reduces to no row at all)."""
        params = {"reduce": True} if until is None else {"reduce": True, "endkey": until}
        rows = db.view(*VIEW, **params)["rows"]
        if not rows:
            return 0
        if (self._memory.get(db.name) or {}).get("untouched"):
            self._memory[db.name]["untouched"] = False
        value = rows[0]["value"]
        if until is None and len(value) > 2 and value[2] != self._invalid_counted.get(db.name, 0):
            self._invalid_counted[db.name] = value[2]
            for row in db.view(*VIEW, key="invalid", reduce=False, include_docs=True)["rows"]:
                self.check(db.name, row.get("doc") or {})
        return int(value[self.index])

    def _still_empty(self, db: Database) -> bool:
        """Whether a month this process `created` still holds nothing but design documents, from one `_changes`
        read since its creation: no view index to build or bring up to date for a month opened ahead (a period
        start opens every account's). Anything else written there, or a longer tail, leaves it to the view."""
        memory = self._memory.get(db.name)
        if not (memory and memory["untouched"]):
            return False
        feed = db.changes(memory["since"], limit=EMPTY_PEEK, include_docs=False)
        rows = feed["results"]
        return len(rows) < EMPTY_PEEK and all(row["id"].startswith("_design/") for row in rows)

    def check(self, db_name: str, doc: dict) -> None:
        """Note `doc` if it is an invalid money document: logged (once per process) with its id, kept in
        `invalid`."""
        problem = money_problem(doc) if is_money(doc) else None
        if problem is None:
            return
        with self._invalid_lock:
            key = (db_name, str(doc.get("_id")))
            if key in self.invalid:
                return
            self.invalid[key] = problem
        log.warning("invalid money document %s/%s, not counted: %s", db_name, doc.get("_id"), problem)

    def created(self, db: Database, since) -> None:
        """`db` was just created and holds nothing but design documents up to `since`: count it from there
        without looking for a checkpoint (and without reading the design documents back)."""
        self._remember(db, None, since, 0, 0, untouched=True)

    def untouched(self, db: Database) -> bool:
        """Whether `db` was `created` by this process and no tail read since found anything but design docs."""
        return bool((self._memory.get(db.name) or {}).get("untouched"))

    def forget(self, db: Database) -> None:
        """Read the stored checkpoint next time, not the remembered one."""
        self._memory.pop(db.name, None)

    def rebuild(self, db: Database) -> int:
        """Count the whole feed again and save a fresh checkpoint; the units."""
        current = self.checkpoint(db)
        units, latest, since = self._recount(db)
        self._save(db, current, since, units, latest)
        return units

    def checkpoint(self, db: Database) -> dict | None:
        """The stored checkpoint; None if there is none; `{_id, _rev, untrusted: True}` if it is malformed or
        its MAC does not match."""
        doc = db.get_or_none(self.checkpoint_id)
        if doc is None:
            return None
        valid = (
            isinstance(doc.get("units"), int)
            and isinstance(doc.get("latest"), int)
            and isinstance(doc.get("since"), (int, str))
            and doc.get("since") not in ("", None)
            and isinstance(doc.get("mac"), str)
            and hmac.compare_digest(doc["mac"], self._mac(db, doc["since"], doc["units"], doc["latest"]))
        )
        return doc if valid else {"_id": doc["_id"], "_rev": doc["_rev"], "untrusted": True}

    def _mac(self, db: Database, since, units: int, latest: int) -> str:
        message = json.dumps([db.name, since, units, latest], separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _checkpointed(self, db: Database) -> tuple[int, int]:
        current = self._memory.get(db.name) or self.checkpoint(db)
        if current is not None and current.get("untrusted"):
            log.warning(
                "balance checkpoint of %s does not match its MAC (not written by this bookkeeper): "
                "recounted from the documents and rebuilt",
                db.name,
            )
            units, latest, since = self._recount(db)
            self._save(db, current, since, units, latest)
            return units, latest
        if current is None or "units" not in current:
            current = {
                "_id": self.checkpoint_id,
                "_rev": (current or {}).get("_rev"),
                "since": 0,
                "units": 0,
                "latest": 0,
            }
        units, latest, since, seen = current["units"], current["latest"], current["since"], 0
        untouched = bool(current.get("untouched"))
        while True:
            feed = db.changes(since=since, limit=PAGE)
            for row in feed["results"]:
                doc = row.get("doc") or {}
                if row["id"].startswith("_design/"):
                    continue
                untouched = False
                self.check(db.name, doc)
                if row.get("deleted") or not doc.get("_rev", "").startswith("1-"):
                    units, latest, since = self._recount(db)
                    self._save(db, current, since, units, latest)
                    return units, latest
                units += signed_units(doc, self.dialect)
                latest = _latest(doc, latest)
            seen += len(feed["results"])
            if isinstance(since, int) and isinstance(feed["last_seq"], int) and feed["last_seq"] < since:
                units, latest, since = self._recount(db)
                self._save(db, current, since, units, latest)
                return units, latest
            since = feed["last_seq"]
            if len(feed["results"]) < PAGE:
                break
        tail = current.get("tail", 0) + seen  # rows counted since the stored checkpoint
        if tail >= ADVANCE_AFTER:
            self._save(db, current, since, units, latest)
        else:
            self._remember(db, current.get("_rev"), since, units, latest, tail, untouched)
        return units, latest

    def _recount(self, db: Database) -> tuple[int, int, object]:
        """(units, latest, seq) over the whole feed; a document changed during the pass counts once."""
        counted: dict[str, tuple[int, int]] = {}
        since = 0
        while True:
            feed = db.changes(since=since, limit=PAGE)
            for row in feed["results"]:
                doc = row.get("doc") or {}
                if row.get("deleted") or not is_money(doc):
                    counted.pop(row["id"], None)
                    continue
                self.check(db.name, doc)
                counted[row["id"]] = (signed_units(doc, self.dialect), _latest(doc, 0))
            since = feed["last_seq"]
            if len(feed["results"]) < PAGE:
                break
        units = sum(u for u, _ in counted.values())
        latest = max((t for _, t in counted.values()), default=0)
        return units, latest, since

    def _save(self, db: Database, current: dict | None, since, units: int, latest: int) -> None:
        doc = {
            "_id": self.checkpoint_id,
            "since": since,
            "units": units,
            "latest": latest,
            "mac": self._mac(db, since, units, latest),
        }
        if current is not None and current.get("_rev"):
            doc["_rev"] = current["_rev"]
        rev: str | None
        try:
            rev = db.put(doc)
        except Conflict:  # another process saved one first: ours stays true in memory; read theirs next time
            rev = (db.get_or_none(self.checkpoint_id) or {}).get("_rev")
        self._remember(db, rev, since, units, latest)

    def _remember(
        self, db: Database, rev: str | None, since, units: int, latest: int, tail: int = 0, untouched: bool = False
    ) -> None:
        self._memory[db.name] = {
            "_id": self.checkpoint_id,
            "_rev": rev,
            "since": since,
            "units": units,
            "latest": latest,
            "tail": tail,
            "untouched": untouched,
        }


def _latest(doc: dict, latest: int) -> int:
    if is_money(doc) and not is_carry(doc) and money_problem(doc) is None:
        return max(latest, int(doc["pvt_created"]))
    return latest
