"""Settings: environment variables (`BOOKKEEPER_*`) over an optional TOML file over defaults.

With no CouchDB URL the embedded server (PouchDB Server, see `embedded.py`) is started and used.
Credentials are never logged or printed: use `Settings.display()` for anything shown to a person.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, Field, ValidationError, field_validator

from .couch import redact
from .dbnames import is_account_id
from .errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "BOOKKEEPER_"


class Settings(BaseModel):
    """The deployment's settings (per-reseller billing settings live in CouchDB, not here)."""

    model_config = {"extra": "forbid"}

    couch_url: str | None = None
    couch_user: str | None = None
    couch_password: str | None = None
    master_account: str | None = None
    dialect: Literal["4.2", "4.3"] = "4.3"
    bookkeeper_db: str = "bookkeeper"
    namespace: str = ""
    embedded_port: int = Field(5984, ge=1, le=65535)
    var_dir: Path = PROJECT_ROOT / "var"
    worker_id: str | None = None
    metrics_port: int = Field(9464, ge=0, le=65535)
    hooks_port: int = Field(8088, ge=0, le=65535)
    log_json: bool = False
    feed_follow_cap: int = Field(1000, ge=0)
    feed_discovery_interval: float = Field(10.0, gt=0)
    feed_poll_interval: float = Field(2.0, gt=0)
    feed_tick_interval: float = Field(300.0, gt=0)
    feed_drain_workers: int = Field(64, ge=1)
    feed_checkpoint_interval: float = Field(300.0, ge=0)
    lease_ttl: float = Field(30.0, gt=0)
    operator_ceiling: Decimal = Field(Decimal(100_000), gt=0)  # a single manual credit/debit above it needs --force

    @field_validator("master_account")
    @classmethod
    def _account(cls, value):
        if value is not None and not is_account_id(value):
            raise ValueError("must be a 32-hex KAZOO account id")
        return value

    def url_with_credentials(self) -> str | None:
        """The CouchDB URL to connect with (credentials folded in), or None for the embedded server."""
        if not self.couch_url:
            return None
        if self.couch_user and "@" not in self.couch_url:
            p = urlsplit(self.couch_url)
            cred = f"{quote(self.couch_user, safe='')}:{quote(self.couch_password or '', safe='')}@"
            return urlunsplit((p.scheme, cred + p.netloc, p.path, p.query, p.fragment))
        return self.couch_url

    def display(self) -> dict:
        """The settings as they may be shown: no password, no credentials in URLs."""
        out = self.model_dump(mode="json", exclude={"couch_password"})
        if self.couch_url:
            out["couch_url"] = redact(self.couch_url)
        else:
            out["couch_url"] = (f"http://127.0.0.1:{self.embedded_port} (the embedded server, data in "
                                f"{self.var_dir / 'couch'}; set BOOKKEEPER_COUCH_URL to use another)")
        return out


def load_settings(path: str | Path | None = None, env: dict | None = None, **overrides) -> Settings:
    """Defaults, then the TOML file (`BOOKKEEPER_CONFIG` or `path`), then the environment, then `overrides`."""
    env = os.environ if env is None else env
    values: dict = {}
    path = path or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(str(path), None, f"cannot read settings: {exc}") from None
    for name in Settings.model_fields:
        key = f"{ENV_PREFIX}{name.upper()}"
        if env.get(key):
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(str(path or "settings"), field, err["msg"]) from None
