"""Design documents kept as files under `views/` and installed into the databases they belong to.

`views/<name>/` becomes `_design/<name>`: `views/<view>/map.js` (+ optional `reduce.js`), an optional
`validate_doc_update.js`, and a `targets` file naming the database kinds it goes into, one per line:
`account` (account DBs), `modb` (monthly DBs), `services`, `accounts`, `bookkeeper` (our own DB).

Ours are `bookkeeper_*`: installing keeps them current and is idempotent (an unchanged design document is not
rewritten, so its views are not rebuilt). Any other name is KAZOO's (`views/ledgers`, `views/transactions`: KAZOO's
views, written by us in the shape of KAZOO's own view files, for a monthly DB the bookkeeper creates): it is
written only where that design document does not exist yet, and an existing one is never changed or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import views

from .couch import Conflict, Database, retry_conflicts

VIEWS_DIR = Path(views.__file__).parent
KINDS = ("account", "modb", "services", "accounts", "bookkeeper")
OURS = "bookkeeper_"


@dataclass(frozen=True)
class DesignDoc:
    name: str
    targets: frozenset[str]
    body: dict

    @property
    def id(self) -> str:
        return f"_design/{self.name}"

    @property
    def ours(self) -> bool:
        """A design document of ours (kept current), not one of KAZOO's (only ever created where missing)."""
        return self.name.startswith(OURS)


def load(name: str, views_dir: Path = VIEWS_DIR) -> DesignDoc:
    """Read one design document folder."""
    folder = views_dir / name
    body: dict = {"language": "javascript"}
    views = {}
    for view_dir in sorted((folder / "views").glob("*")) if (folder / "views").exists() else []:
        view = {"map": (view_dir / "map.js").read_text().strip()}
        if (view_dir / "reduce.js").exists():
            view["reduce"] = (view_dir / "reduce.js").read_text().strip()
        views[view_dir.name] = view
    if views:
        body["views"] = views
    if (folder / "validate_doc_update.js").exists():
        body["validate_doc_update"] = (folder / "validate_doc_update.js").read_text().strip()
    targets_file = folder / "targets"
    targets = frozenset(targets_file.read_text().split()) if targets_file.exists() else frozenset()
    unknown = targets - set(KINDS)
    if unknown:
        raise ValueError(f"{targets_file}: unknown database kinds {sorted(unknown)}; use {KINDS}")
    return DesignDoc(name, targets, body)


def load_all(views_dir: Path = VIEWS_DIR) -> list[DesignDoc]:
    return [load(p.name, views_dir) for p in sorted(views_dir.iterdir()) if p.is_dir() and p.name[0] not in "_."]


def is_ours(doc_id: str) -> bool:
    """The id is one of our own design documents."""
    return doc_id.startswith(f"_design/{OURS}")


def for_kind(kind: str, views_dir: Path = VIEWS_DIR) -> list[DesignDoc]:
    return [d for d in load_all(views_dir) if kind in d.targets]


def install(db: Database, name_or_doc: str | DesignDoc) -> bool:
    """Install one design document into `db`; True if it was written, False if it was already current (or, for
    one of KAZOO's, if it exists at all)."""
    ddoc = load(name_or_doc) if isinstance(name_or_doc, str) else name_or_doc
    return bool(_install(db, [ddoc]))


def _current(current: dict | None, ddoc: DesignDoc) -> bool:
    """Nothing to write: KAZOO's exists (whatever it holds), ours is as the files say."""
    if current is not None and not ddoc.ours:
        return True
    return (
        current is not None
        and all(current.get(k) == v for k, v in ddoc.body.items())
        and not (set(current) - set(ddoc.body) - {"_id", "_rev"})
    )


def install_kind(db: Database, kind: str) -> list[str]:
    """Install every design document meant for this database kind; the names written."""
    return _install(db, for_kind(kind))


def _install(db: Database, ddocs: list[DesignDoc]) -> list[str]:
    """Two requests (read all, write the stale ones in one `_bulk_docs`) instead of two per document; a conflict
    on ours reads and writes again (`retry_conflicts`); a conflict on KAZOO's means it exists now, which is all we
    wanted."""
    written: list[str] = []

    def attempt() -> list[str]:
        nonlocal ddocs
        current = db.get_many([d.id for d in ddocs])
        stale = [d for d in ddocs if not _current(current.get(d.id), d)]
        if not stale:
            return written
        docs = [{"_id": d.id, **d.body, **({"_rev": current[d.id]["_rev"]} if d.id in current else {})} for d in stale]
        results = db.bulk_docs(docs)
        written.extend(d.name for d in stale if results.get(d.id, {}).get("ok"))
        ddocs = [d for d in stale if not results.get(d.id, {}).get("ok") and d.ours]
        if ddocs:
            raise Conflict(409, "conflict", "", db.name)
        return written

    return retry_conflicts(lambda: f"{db.name}/{', '.join(d.id for d in ddocs)}", attempt)
