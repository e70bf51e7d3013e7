"""`catch_up`: consume databases up to their latest change and return (the simulator, `bookkeeper run --once`)."""

from __future__ import annotations

from bookkeeper.couch import Couch

from .consumer import DEFAULT_CONSUMER, Consumer
from .engine import Engine
from .metrics import Metrics


def catch_up(couch: Couch, engine: Engine, db_names, *, metrics: Metrics | None = None,
             consumer: str = DEFAULT_CONSUMER, batch_size: int = 500) -> dict[str, object]:
    """Hand every change after each database's checkpoint to the engine, checkpointing after each batch;
    {database: last seq}. An engine failure propagates (EngineFailed) with its database's checkpoint kept."""
    metrics = metrics or Metrics()
    return {name: Consumer(couch, name, consumer).drain(engine, metrics, limit=batch_size) for name in db_names}
