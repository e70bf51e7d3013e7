"""Apache CouchDB nodes from `../shared/couchdb` beside the checkout, for tests that need CouchDB itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bookkeeper.config import PROJECT_ROOT
from bookkeeper.couch import Couch
from bookkeeper.embedded import free_port

SCRIPT = PROJECT_ROOT.parent / "shared" / "couchdb" / "couchdb"


class CouchDBNode:
    """One node in `directory` on a free port; admin:admin."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()

    def _run(self, *args: str) -> str:
        return subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, text=True, timeout=120).stdout

    def start(self) -> CouchDBNode:
        self._run("start", str(self.directory), "--port", str(self.port))
        return self

    def stop(self) -> None:
        self._run("stop", str(self.directory))

    @property
    def bare_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> Couch:
        return Couch(f"http://admin:admin@127.0.0.1:{self.port}", retries=3)

    def configure(self, values: dict[tuple[str, str], str]) -> None:
        """Set `[section] key = value` in the node's configuration and restart it, so every value is in force."""
        for (section, key), value in values.items():
            self.admin.json("PUT", f"_node/_local/_config/{section}/{key}", body=value)
        self._run("kill", str(self.directory), "1")
        self._run("revive", str(self.directory), "1")
