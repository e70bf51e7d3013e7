"""The base of the test worlds: a namespaced view of the session server, accounts made in it, and every database
it made removed afterwards."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from bookkeeper import provision
from bookkeeper.config import Config
from bookkeeper.couch import Couch


class NamespacedWorld:
    """Shared databases under a fresh namespace (`<tag><10 hex>-`); `new_account` records what `cleanup` removes."""

    def __init__(self, server_url: str, config: Config, tag: str, **couch_options):
        self.url = server_url
        self.namespace = f"{tag}{uuid.uuid4().hex[:10]}-"
        self.couch = Couch(server_url, namespace=self.namespace, **{"retries": 3, **couch_options})
        self.config = config.model_copy(update={"namespace": self.namespace})
        self.ids: list[str] = []

    def new_account(self, name: str, tree: list[str], now: datetime, **kw) -> str:
        account_id = provision.new_account_id()
        provision.create_account(
            self.couch, self.config, account_id, name, tree, now, dialect=self.config.dialect, **kw
        )
        self.ids.append(account_id)
        return account_id

    def cleanup(self) -> None:
        provision.remove(self.couch, self.config, self.ids)


def world_fixture(world_class: type[NamespacedWorld]):
    """A `world` fixture: a fresh `world_class(server.url, settings)`, cleaned up after the test."""

    @pytest.fixture
    def world(server, config):
        made = world_class(server.url, config)
        yield made
        made.cleanup()

    return world
