"""A KAZOO-shaped world in the test server: namespaced shared databases, fresh account databases."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from bookkeeper import provision
from bookkeeper.couch import Couch

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


class World:
    """Creates accounts in a namespaced view of the server and removes everything it made."""

    def __init__(self, server_url: str, settings):
        namespace = f"w{uuid.uuid4().hex[:10]}-"
        self.couch = Couch(server_url, namespace=namespace, retries=3)
        self.settings = settings.model_copy(update={"namespace": namespace})
        self.ids: list[str] = []

    def account(self, name: str, tree: list[str] | None = None, now: datetime = START, **kw) -> str:
        account_id = provision.new_account_id()
        provision.create_account(self.couch, self.settings, account_id, name, tree or [], now,
                                 dialect=self.settings.dialect, **kw)
        self.ids.append(account_id)
        return account_id

    def cleanup(self) -> None:
        provision.remove(self.couch, self.settings, self.ids)


@pytest.fixture
def world(server, settings):
    w = World(server.url, settings)
    yield w
    w.cleanup()
