"""`catch_up`: consume databases up to their latest change and return (the simulator, `bookkeeper run --once`)."""

from __future__ import annotations

import logging

from bookkeeper.couch import Couch, CouchError

from .consumer import DEFAULT_CONSUMER, Consumer
from .engine import Engine
from .metrics import Metrics

log = logging.getLogger(__name__)


def catch_up(
    couch: Couch,
    engine: Engine,
    db_names,
    *,
    metrics: Metrics | None = None,
    consumer: str = DEFAULT_CONSUMER,
    batch_size: int = 500,
    checkpoint_interval: float = 0.0,
) -> dict[str, object]:
    """Hand every change after each database's checkpoint to the engine; {database: last seq}. Each database's
    checkpoint is written before the next database is read: after each batch (`checkpoint_interval` 0), or at
    most every `checkpoint_interval` seconds and at its end. An engine failure propagates (EngineFailed) with
    that database's checkpoint at the last batch handled (written if the server lets us)."""
    metrics = metrics or Metrics()
    seqs = {}
    for name in db_names:
        reader = Consumer(couch, name, consumer, checkpoint_interval=checkpoint_interval)
        try:
            seqs[name] = reader.drain(engine, metrics, limit=batch_size)
        except BaseException:
            try:  # keep what was handled before the failure; the failure itself is what the caller must see
                reader.flush()
            except CouchError as exc:
                metrics.count("feed_errors")
                log.warning("checkpoint of %s not written: %s", name, exc)
            raise
        reader.flush()  # a failure here propagates: `--once` must not exit 0 with checkpoints unwritten
    return seqs
