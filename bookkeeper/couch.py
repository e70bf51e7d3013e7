"""The CouchDB layer: the only module that speaks HTTP to CouchDB.

A thin client over `requests` (see docs/architecture.md for why not an SDK on the hot path): database names
are quoted whole (KAZOO's `account%2F...`), `_design/` and `_local/` prefixes stay unescaped, every call has a
timeout, connection errors and 5xx are retried with jittered backoff, and errors are typed (409 `Conflict`,
404 `NotFound`, 401 `Unauthorized`, 403 `Forbidden`). A document others may change too is changed by one
read-modify-write, `Database.update`, retried on 409 by the one policy of `retry_conflicts`. Bulk results are
returned keyed by id, never by position (PouchDB Server may reorder them). Every request asks for
`Accept-Encoding: identity`: a continuous feed's output is then not buffered, and neither side spends CPU on gzip
(docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from .backoff import backoff_delay
from .dbnames import encode, parse_db_name
from .jsontext import dumps

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
Timeout = float | tuple[float, float]  # seconds, or (connect, read) seconds as requests takes them
CONNECTIONS = 32  # request connections to the server at most; a thread beyond them waits for one
CONFLICT_ATTEMPTS = 10  # tries of a read-modify-write that meets 409s (docs/architecture.md, Conflicts)
CONFLICT_BACKOFF = 0.02  # seconds before the first retry; doubled each time, jittered (backoff.backoff_delay)
CONFLICT_BACKOFF_CAP = 1.0

T = TypeVar("T")
_UNREAD: Any = object()


# CouchDB batches what `_db_updates` reports: a node writes them every `[global_changes] max_write_delay` ms (500
# when unset), so a change may wait that long before a reader of `_db_updates` hears of it. Advised for the daemon:
# 50 (docs/operations.md); every node bookkeeper/servers.py starts is set so.
DB_UPDATES_DELAY_DEFAULT_MS = 500
DB_UPDATES_DELAY_ADVISED_MS = 50
DB_UPDATES_DELAY_SETTING = "/_node/_local/_config/global_changes/max_write_delay"


def connect_timeout(timeout: Timeout) -> float:
    """The connect part of a timeout."""
    return timeout[0] if isinstance(timeout, tuple) else timeout


class CouchError(Exception):
    """A CouchDB request that failed; `status` is the HTTP status (0 for transport errors)."""

    def __init__(self, status: int, error: str, reason: str, path: str = ""):
        self.status, self.error, self.reason, self.path = status, error, reason, path
        super().__init__(f"CouchDB {status} {error}: {reason}" + (f" ({path})" if path else ""))


class Conflict(CouchError):
    """409: the document exists at another revision (for a deterministic id: already written)."""


class NotFound(CouchError):
    """404: no such database or document."""


class Unauthorized(CouchError):
    """401: missing or wrong credentials."""


class Forbidden(CouchError):
    """403: refused, e.g. by a validate_doc_update function."""


class Unavailable(CouchError):
    """The server did not answer (connection refused, timeout, 5xx) after every retry."""


def conflict_pause(attempt: int) -> None:
    """Wait before read-modify-write attempt `attempt + 1` after `attempt` met a conflict."""
    time.sleep(backoff_delay(attempt, base=CONFLICT_BACKOFF, cap=CONFLICT_BACKOFF_CAP))


def retry_conflicts(what: str | Callable[[], str], attempt: Callable[[], T]) -> T:
    """The one retry policy of read-modify-write: call `attempt` (read, change, write) again while it raises
    Conflict, CONFLICT_ATTEMPTS times in all with backoff between; then raise Conflict naming `what` (the document
    or documents; a function: those still conflicting). `attempt` must read afresh each time: a conflict means
    what it read is stale."""
    for n in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except Conflict:
            if n == CONFLICT_ATTEMPTS:
                reason = f"changed by another writer on each of {CONFLICT_ATTEMPTS} attempts"
                raise Conflict(409, "conflict", reason, what if isinstance(what, str) else what()) from None
            conflict_pause(n)
    raise AssertionError("unreachable")


_BY_STATUS = {409: Conflict, 404: NotFound, 401: Unauthorized, 403: Forbidden}


def _error_for(status: int, body, path: str) -> CouchError:
    body = body if isinstance(body, dict) else {}
    cls = _BY_STATUS.get(status, Unavailable if status >= 500 else CouchError)
    return cls(status, str(body.get("error", "")), str(body.get("reason", "")), path)


def _rev_rank(rev: str) -> tuple[int, str]:
    """Where a revision ranks in CouchDB's choice of a winner among live leaves: deeper first, then greater id."""
    pos, _, rev_id = rev.partition("-")
    return int(pos), rev_id


def _history(doc: dict) -> set[str]:
    """The revisions of `doc`'s branch, from its `_revisions` (read with `revs=true`)."""
    revisions = doc["_revisions"]
    return {f"{revisions['start'] - i}-{rev_id}" for i, rev_id in enumerate(revisions["ids"])}


def redact(url: str) -> str:
    """The URL without its credentials, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Couch:
    """A CouchDB server. Credentials may be in the URL (`http://user:pass@host:5984`).

    `namespace` prefixes every database name that is not an account DB or MODB (`accounts`, `services`,
    `system_config`, the bookkeeper's own), so a simulation or a test can run isolated on a shared server:
    account databases need no prefix because their ids are random.

    Connections are bounded: requests share at most `connections` keep-alive connections (every thread of the
    daemon: drains, evaluations, hooks; a thread finding them all busy waits for one), and each continuous feed
    (`Database.follow`, which holds its connection for as long as it runs) has one of its own, so a daemon holds
    `connections` + its followed feeds, however many accounts and threads it has.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: Timeout = 30.0,
        retries: int = 6,
        backoff: float = 0.2,
        namespace: str = "",
        auth: requests.auth.AuthBase | None = None,
        connections: int = CONNECTIONS,
    ):
        parts = urlsplit(url)
        basic = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        credentials = auth if auth is not None else basic
        self.session = _session(HTTPAdapter(pool_maxsize=connections, pool_block=True), credentials)
        self._feeds = _session(HTTPAdapter(), credentials)  # continuous feeds: a connection each, never waited for
        self.url = redact(url).rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.namespace = namespace
        self._copies: int | None = None

    def __repr__(self) -> str:
        return f"Couch({self.url!r})"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body=None,
        data: bytes | None = None,
        headers: dict | None = None,
        timeout: Timeout | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> requests.Response:
        """One HTTP call with retries on transport errors and 5xx; raises a typed CouchError otherwise."""
        url = f"{self.url}/{path.lstrip('/')}"
        if body is not None:
            data = dumps(body, indent=None).encode()
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                resp = (self._feeds if stream else self.session).request(
                    method,
                    url,
                    params=_params(params),
                    data=data,
                    headers=headers,
                    timeout=timeout or self.timeout,
                    stream=stream,
                )
            except requests.RequestException as exc:
                if attempt + 1 == attempts:
                    raise Unavailable(0, "unavailable", str(exc), path) from exc
                self._sleep(attempt, f"{method} {path}: {exc.__class__.__name__}")
                continue
            if resp.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                resp.close()
                self._sleep(attempt, f"{method} {path}: HTTP {resp.status_code}")
                continue
            if resp.status_code >= 400:
                try:
                    err = resp.json()
                except ValueError:
                    err = {"reason": resp.text[:200]}
                raise _error_for(resp.status_code, err, path)
            return resp
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, what: str) -> None:
        delay = backoff_delay(attempt + 1, base=self.backoff, cap=10.0)
        log.warning("CouchDB retry %d in %.2fs: %s", attempt + 1, delay, what)
        time.sleep(delay)

    def json(self, method: str, path: str, **kw):
        return self.request(method, path, **kw).json()

    def info(self) -> dict:
        return self.json("GET", "/")

    def all_dbs(self) -> list[str]:
        return self.json("GET", "/_all_dbs")

    def copies(self) -> int:
        """How many nodes hold each document: on a CouchDB cluster min(3, nodes) (`n`, CouchDB's default), else 1.
        On a cluster every write asks for all of them (`w`), so that a read any node answers from its own copy
        right after (a view, `_changes`, a database's info) sees the write; a doc read is a quorum read anyway.
        With a node down the write is answered 202 Accepted by the others, and that node catches up when back."""
        if self._copies is None:
            try:
                nodes = self.json("GET", "/_membership").get("cluster_nodes") or []
            except CouchError:  # PouchDB Server has no `_membership`
                nodes = []
            self._copies = max(1, min(3, len(nodes)))
        return self._copies

    def _write_params(self) -> dict | None:
        return {"w": self.copies()} if self.copies() > 1 else None

    def db(self, name: str) -> Database:
        """A database by its unencoded name (`account/ab/cd/...`, `services`), namespaced if it is shared."""
        if self.namespace and parse_db_name(name) is None and not name.startswith(self.namespace):
            name = self.namespace + name
        return Database(self, name)

    def namespaced(self, namespace: str) -> Couch:
        """The same server, connection pool and credentials, with another namespace."""
        other = copy.copy(self)
        other.namespace = namespace
        return other

    def close(self) -> None:
        self.session.close()
        self._feeds.close()


class Database:
    """One database. Document ids are quoted; `_design/x` and `_local/x` keep their slash."""

    def __init__(self, couch: Couch, name: str):
        self.couch, self.name = couch, name
        self.path = encode(name)

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    def _doc_path(self, doc_id: str) -> str:
        for prefix in ("_design/", "_local/"):
            if doc_id.startswith(prefix):
                return f"{self.path}/{prefix}{quote(doc_id[len(prefix) :], safe='')}"
        return f"{self.path}/{quote(doc_id, safe='')}"

    # -- the database itself
    def exists(self) -> bool:
        try:
            self.couch.request("GET", self.path)
            return True
        except NotFound:
            return False

    def create(self) -> bool:
        """Create the database; False if it already existed."""
        try:
            self.couch.request("PUT", self.path)
            return True
        except CouchError as exc:
            if exc.status == 412:
                return False
            raise

    def ensure(self) -> Database:
        if not self.exists():
            self.create()
        return self

    def delete(self) -> None:
        """Delete the database (admin only: a refused DELETE wedges PouchDB Server, so call it as admin)."""
        with contextlib.suppress(NotFound):
            self.couch.request("DELETE", self.path)

    def info(self) -> dict:
        return self.couch.json("GET", self.path)

    # -- documents
    def get(self, doc_id: str, **params) -> dict:
        return self.couch.json("GET", self._doc_path(doc_id), params=params)

    def get_or_none(self, doc_id: str, **params) -> dict | None:
        try:
            return self.get(doc_id, **params)
        except NotFound:
            return None

    def put(self, doc: dict) -> str:
        """Create or update `doc` (its `_id` is required); sets and returns the new `_rev`."""
        result = self.couch.json("PUT", self._doc_path(doc["_id"]), body=doc, params=self.couch._write_params())
        doc["_rev"] = result["rev"]
        return result["rev"]

    def update(
        self, doc_id: str, change: Callable[[dict | None], dict | None], *, current: dict | None = _UNREAD
    ) -> dict | None:
        """Change `doc_id` by read-modify-write, the one way to change a document another writer may change too.

        `change` gets the document as read (None if there is none; it may modify it) and returns the document to
        write, or None to leave it as it is. `_id` and `_rev` of what is written are those read, so a concurrent
        write answers 409; the document is then read again and `change` called again (`retry_conflicts`), so
        `change` must decide from what it is given, never from a document read before, and record what it does
        (on a cluster two writes of the same content on one revision count as one: `_settle`). On a cluster the
        read asks every copy (a copy that has not yet received the document must not make it look missing) and
        every write is settled: a 409 there guards one branch only, and a document in conflict on the copies
        takes a write on each of its branches (a `_local/` document has no branches: neither applies).
        `current`: the document as the caller already holds it (None: known to be missing), used instead of the
        first read (it is not modified). Returns the document as written, with its new `_rev`, or None when
        `change` declined."""
        first = [current]
        clustered = self.couch.copies() > 1 and not doc_id.startswith("_local/")  # local docs have no branches

        def attempt() -> dict | None:
            doc = first.pop() if first else _UNREAD
            if doc is _UNREAD:
                doc = self.get_or_none(doc_id, r=self.couch.copies()) if clustered else self.get_or_none(doc_id)
            else:
                doc = copy.deepcopy(doc)
            new = change(doc)
            if new is None:
                return None
            new = {**new, "_id": doc_id}
            new.pop("_rev", None)
            if doc is not None and doc.get("_rev"):
                new["_rev"] = doc["_rev"]
            resp = self.couch.request("PUT", self._doc_path(doc_id), body=new, params=self.couch._write_params())
            new["_rev"] = resp.json()["rev"]
            if clustered:
                self._settle(doc_id, new["_rev"])
            return new

        return retry_conflicts(f"{self.name}/{doc_id}", attempt)

    def _settle(self, doc_id: str, rev: str) -> None:
        """After a read-modify-write on a cluster (whatever its answer: 202 Accepted says another writer may have
        taken some copies with the same parent, and even 201 only says no copy had another child of the revision
        read, while another branch may be growing beside it): read every live revision from every copy. If `rev`
        is not in the winner's history, drop it and raise Conflict, so the change is made again on the winner;
        else delete every other live revision (their writers, settling too, redo their changes), until `rev`'s
        branch is the only one, so that no writer holding a stale revision can build on another branch later.
        A change may be made twice, so every change given to `update` is idempotent. Two writers writing the same
        content on the same revision get the same revision id (CouchDB hashes the content) and both see it win:
        one write stands for both, which is right only because every change records what it did (a claimant, a
        charge id, a state), never a bare increment."""
        for _ in range(CONFLICT_ATTEMPTS):
            leaves = self.couch.json(
                "GET",
                self._doc_path(doc_id),
                params={"open_revs": "all", "revs": "true", "r": self.couch.copies()},
                headers={"Accept": "application/json"},
            )
            live = [row["ok"] for row in leaves if "ok" in row and not row["ok"].get("_deleted")]
            winner = max(live, key=lambda doc: _rev_rank(doc["_rev"]), default=None)
            if winner is None or rev not in _history(winner):
                with contextlib.suppress(CouchError):
                    self.delete_doc(doc_id, rev)
                raise Conflict(
                    409, "conflict", "another writer's change won on the cluster's copies", f"{self.name}/{doc_id}"
                )
            others = [doc["_rev"] for doc in live if doc is not winner]
            if not others:
                return
            for other in others:
                with contextlib.suppress(CouchError):
                    self.delete_doc(doc_id, other)
        raise Conflict(409, "conflict", "the cluster's copies kept diverging", f"{self.name}/{doc_id}")

    def delete_doc(self, doc_id: str, rev: str) -> None:
        self.couch.request("DELETE", self._doc_path(doc_id), params={"rev": rev, **(self.couch._write_params() or {})})

    def bulk_docs(self, docs: list[dict]) -> dict[str, dict]:
        """Write many documents in one request; results keyed by id (`{"ok": True, "rev": ...}` or an error)."""
        if not docs:
            return {}
        rows = self.couch.json(
            "POST", f"{self.path}/_bulk_docs", body={"docs": docs}, params=self.couch._write_params()
        )
        return {row["id"]: row for row in rows}

    def all_docs(self, keys: list[str] | None = None, **params) -> list[dict]:
        if keys is not None:
            return self.couch.json("POST", f"{self.path}/_all_docs", params=params, body={"keys": keys})["rows"]
        return self.couch.json("GET", f"{self.path}/_all_docs", params=params)["rows"]

    def get_many(self, ids: list[str]) -> dict[str, dict]:
        """The existing, non-deleted documents among `ids`, keyed by id."""
        rows = self.all_docs(keys=ids, include_docs=True)
        return {r["id"]: r["doc"] for r in rows if r.get("doc")}

    def view(self, ddoc: str, view: str, **params) -> dict:
        """Query `_design/<ddoc>/_view/<view>`; `keys=[...]` is sent as a POST body."""
        path = f"{self.path}/_design/{quote(ddoc, safe='')}/_view/{quote(view, safe='')}"
        keys = params.pop("keys", None)
        if keys is not None:
            return self.couch.json("POST", path, params=params, body={"keys": keys})
        return self.couch.json("GET", path, params=params)

    def find(self, selector: dict, **fields) -> list[dict]:
        """Mango `_find`, every page."""
        docs, bookmark = [], None
        while True:
            body = {"selector": selector, "limit": 1000, **fields}
            if bookmark:
                body["bookmark"] = bookmark
            resp = self.couch.json("POST", f"{self.path}/_find", body=body)
            docs.extend(resp["docs"])
            bookmark = resp.get("bookmark")
            if len(resp["docs"]) < 1000 or not bookmark:
                return docs

    # -- attachments
    def put_attachment(self, doc_id: str, rev: str, name: str, data: bytes, content_type: str) -> str:
        resp = self.couch.json(
            "PUT",
            f"{self._doc_path(doc_id)}/{quote(name, safe='')}",
            params={"rev": rev},
            data=data,
            headers={"Content-Type": content_type},
        )
        return resp["rev"]

    def get_attachment(self, doc_id: str, name: str) -> bytes:
        return self.couch.request(
            "GET", f"{self._doc_path(doc_id)}/{quote(name, safe='')}", headers={"Accept": "*/*"}
        ).content

    # -- changes
    def changes(self, since=0, *, limit: int | None = None, include_docs: bool = True, **params) -> dict:
        """One normal `_changes` request: `{"results": [...], "last_seq": ...}`. `since` is opaque."""
        params = {"since": since, "include_docs": include_docs, **params}
        if limit is not None:
            params["limit"] = limit
        return self.couch.json("GET", f"{self.path}/_changes", params=params)

    def follow(self, since="now", *, heartbeat_ms: int = 5000, include_docs: bool = True) -> Iterator[dict]:
        """A continuous `_changes` feed, one row at a time. Ends (raises Unavailable) when the connection drops
        or no heartbeat arrives within 2.5 heartbeats; the caller resumes from the last `seq` it handled."""
        params = {"feed": "continuous", "since": since, "heartbeat": heartbeat_ms, "include_docs": include_docs}
        resp = self.couch.request(
            "GET",
            f"{self.path}/_changes",
            params=params,
            stream=True,
            retry=False,
            timeout=(connect_timeout(self.couch.timeout), heartbeat_ms * 2.5 / 1000),
        )
        try:
            for line in resp.iter_lines(chunk_size=None):
                if not line:
                    continue
                row = json.loads(line)
                if "seq" in row and "id" in row:
                    yield row
                elif "last_seq" in row:
                    return
        except (requests.RequestException, ValueError) as exc:
            raise Unavailable(0, "feed_dropped", str(exc), self.path) from exc
        finally:
            resp.close()


def _session(adapter: HTTPAdapter, auth: requests.auth.AuthBase | tuple[str, str] | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy/netrc lookup from the environment on every request (CPU-costly)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(
        {"Accept": "application/json", "Content-Type": "application/json", "Accept-Encoding": "identity"}
    )
    session.auth = auth
    return session


def _params(params: dict | None) -> dict | None:
    """CouchDB wants JSON values for keys and booleans; strings for the rest."""
    if not params:
        return params
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        if key in ("key", "keys", "startkey", "endkey", "start_key", "end_key", "doc_ids", "selector") or isinstance(
            value, (bool, list, dict)
        ):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = value
    return out
