"""An Apache CouchDB node for tests that need CouchDB itself, whatever server the suite runs against."""

from __future__ import annotations

from pathlib import Path

from bookkeeper.couch import Couch
from bookkeeper.servers import CouchDBServer


class CouchDBNode(CouchDBServer):
    """One node in `directory` on a free port; admin:admin."""

    def __init__(self, directory: Path):
        super().__init__(directory)

    @property
    def bare_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> Couch:
        return Couch(self.url, retries=3)

    def configure(self, values: dict[tuple[str, str], str]) -> None:
        """Set `[section] key = value` in the node's configuration and restart it, so every value is in force."""
        for (section, key), value in values.items():
            self.admin.json("PUT", f"_node/_local/_config/{section}/{key}", body=value)
        self.kill(1)
        self.revive(1)
