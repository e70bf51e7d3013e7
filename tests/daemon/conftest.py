"""The `deployment` fixture: a world of its own on a server of this module's own, and the daemons started in it."""

from __future__ import annotations

import pytest
from deployment import Deployment


@pytest.fixture
def deployment(own_server):
    d = Deployment(own_server)
    yield d
    d.stop()
    d.remove()
