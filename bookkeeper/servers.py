"""The servers tests and benchmarks run against: `embedded` (PouchDB Server), `couchdb` (one Apache CouchDB 3.5 node),
`cluster` (three CouchDB nodes joined, q=2, n=3) or any CouchDB URL.

The CouchDB nodes come from the CouchDB launcher kept in the checkout's parent directory (`launcher()`, or
`BOOKKEEPER_COUCHDB_LAUNCHER`; docs/operations.md "Testing on CouchDB"), on free ports, with their data under a
directory the caller owns. Every server here has `url`, `start()`, `stop()` (and `start()` again restarts it on its
data, unless it is in memory) and `kind`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import PROJECT_ROOT
from .couch import DB_UPDATES_DELAY_ADVISED_MS, DB_UPDATES_DELAY_SETTING, Couch
from .embedded import EmbeddedServer, ServerError, answers, free_port

KINDS = ("embedded", "couchdb", "cluster")
ADMIN = "admin:admin"  # the launcher's administrator


def launcher() -> Path:
    """The CouchDB launcher script (it may be missing: see `launcher_available`)."""
    default = PROJECT_ROOT.parent / "shared" / "couchdb" / "couchdb"
    return Path(os.environ.get("BOOKKEEPER_COUCHDB_LAUNCHER") or default)


def launcher_available() -> bool:
    return launcher().is_file()


def free_ports(count: int, tries: int = 50) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1."""
    for _ in range(tries):
        base = free_port()
        if base + count > 65535:
            continue
        if all(_free(base + k) for k in range(1, count)):
            return base
    raise ServerError(f"found no {count} consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class CouchDBServer:
    """Apache CouchDB nodes from the launcher, their data and logs under `var_dir`; node K on `port + K - 1`."""

    var_dir: Path
    port: int = 0
    nodes: int = 1
    kind: str = "couchdb"

    @property
    def url(self) -> str:
        return f"http://{ADMIN}@127.0.0.1:{self.port}"

    def node_url(self, k: int) -> str:
        return f"http://{ADMIN}@127.0.0.1:{self.port + k - 1}"

    def _run(self, *args: str, timeout: float = 180.0) -> None:
        if not launcher_available():
            raise ServerError(f"no CouchDB launcher at {launcher()} (set BOOKKEEPER_COUCHDB_LAUNCHER)")
        done = subprocess.run(
            [str(launcher()), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise ServerError(f"couchdb {args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> CouchDBServer:
        """Start the nodes (or restart them on their data); the first start picks free ports, and tries other
        ports twice if one was taken meanwhile."""
        fresh = not self.port
        attempts = 3 if fresh else 1
        for attempt in range(attempts):
            if fresh:
                self.port = free_ports(self.nodes)
            try:
                self._run("start", str(self.var_dir), "--port", str(self.port), "--nodes", str(self.nodes))
                self._advise()
                return self
            except ServerError:
                self._run("stop", str(self.var_dir))
                if attempt + 1 == attempts:
                    raise
                for node in self.var_dir.glob("node*"):  # named after their ports: start afresh
                    shutil.rmtree(node)
                (self.var_dir / "joined").unlink(missing_ok=True)
        return self

    def _advise(self) -> None:
        """Every node batches `_db_updates` as docs/operations.md advises for the daemon."""
        for k in range(1, self.nodes + 1):
            node = Couch(self.node_url(k))
            try:
                node.json("PUT", DB_UPDATES_DELAY_SETTING, body=str(DB_UPDATES_DELAY_ADVISED_MS))
            finally:
                node.close()

    def stop(self) -> bool:
        self._run("stop", str(self.var_dir))
        return True

    def kill(self, k: int) -> None:
        """SIGKILL node `k` (1-based): a crashed machine."""
        self._run("kill", str(self.var_dir), str(k))

    def revive(self, k: int) -> None:
        """Start node `k` again on its own data."""
        self._run("revive", str(self.var_dir), str(k))

    def answers(self) -> bool:
        return answers(self.url)


@dataclass
class ExternalServer:
    """A CouchDB someone else runs: never started or stopped here."""

    url: str
    kind: str = "url"

    def start(self) -> ExternalServer:
        if not answers(self.url, timeout=5):
            raise ServerError("the CouchDB at the given URL does not answer")
        return self

    def stop(self) -> bool:
        return False


def stop_servers_on_sigterm() -> None:
    """Make SIGTERM (from `timeout`, a supervisor) raise SystemExit in the main thread, so that a bench's `finally`
    stops the servers it started rather than leaving them running."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def make_server(kind: str, var_dir: Path, *, persistent: bool = False):
    """A server of `kind` (one of KINDS, or an http(s) URL), not started. `persistent`: an embedded server keeps
    its data on disk, so it survives a restart (CouchDB always does)."""
    var_dir = Path(var_dir)
    if kind == "embedded":
        return EmbeddedServer(var_dir, free_port(), in_memory=not persistent)
    if kind in ("couchdb", "cluster"):
        return CouchDBServer(var_dir, nodes=3 if kind == "cluster" else 1, kind=kind)
    if kind.startswith(("http://", "https://")):
        return ExternalServer(kind.rstrip("/"))
    raise ServerError(f"unknown server {kind!r}: one of {', '.join(KINDS)} or an http(s) URL")
