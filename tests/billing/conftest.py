"""A KAZOO-shaped world in the test server: namespaced shared databases, fresh account databases."""

from __future__ import annotations

from datetime import UTC, datetime

from worlds import NamespacedWorld, world_fixture

from bookkeeper.config import Config

START = datetime(2026, 3, 1, tzinfo=UTC)


class World(NamespacedWorld):
    """Creates accounts in a namespaced view of the server and removes everything it made."""

    def __init__(self, server_url: str, config: Config):
        super().__init__(server_url, config, "w")

    def account(self, name: str, tree: list[str] | None = None, now: datetime = START, **kw) -> str:
        return self.new_account(name, tree or [], now, **kw)


world = world_fixture(World)
