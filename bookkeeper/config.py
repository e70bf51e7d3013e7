"""Deployment settings: environment variables (`BOOKKEEPER_*`) over an optional TOML file over defaults.

pydantic-settings reads both sources (prefix, case, empty values, JSON for structured values); `load_config`
orders them and reports a bad value as one line naming the file or variable and the field.

With no CouchDB URL the embedded server (PouchDB Server, see `embedded.py`) is started and used.
Credentials are never logged or printed: use `Config.display()` for anything shown to a person.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, TomlConfigSettingsSource

from .couch import redact
from .dbnames import is_account_id
from .errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "BOOKKEEPER_"


class Config(BaseSettings):
    """The deployment's settings (per-reseller billing settings live in CouchDB, not here).

    Built by `load_config`, which gathers its sources; constructed directly it takes only its arguments.
    """

    model_config = {"extra": "forbid", "env_prefix": ENV_PREFIX}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: `load_config` gathers and orders the file and the environment itself."""
        return (init_settings,)

    couch_url: str | None = None
    couch_user: str | None = None
    couch_password: str | None = None
    couch_iam_apikey: str | None = None
    couch_iam_url: str = "https://iam.cloud.ibm.com/identity/token"
    master_account: str | None = None
    dialect: Literal["4.2", "4.3"] = "4.3"
    # our automatic top-up (`topup` on the account doc); not `system_config/topup.enable`, KAZOO's own switch
    auto_topup: bool = False
    bookkeeper_db: str = "bookkeeper"
    namespace: str = ""
    embedded_port: int = Field(5984, ge=1, le=65535)
    var_dir: Path = PROJECT_ROOT / "var"
    worker_id: str | None = None
    metrics_port: int = Field(9464, ge=0, le=65535)
    hooks_port: int = Field(8088, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"  # the address /metrics and /health listen on; 0.0.0.0 for every interface
    hooks_host: str = "127.0.0.1"  # the address the payment hooks listen on (put TLS in front: docs/operations.md)
    log_json: bool = False
    feed_follow_cap: int = Field(1000, ge=0)
    feed_discovery_interval: float = Field(10.0, gt=0)
    feed_poll_interval: float = Field(2.0, gt=0)
    feed_tick_interval: float = Field(300.0, gt=0)
    feed_drain_workers: int = Field(64, ge=1)
    feed_checkpoint_interval: float = Field(300.0, ge=0)
    lease_ttl: float = Field(30.0, gt=0)
    operator_ceiling: Decimal = Field(Decimal(100_000), gt=0)  # a single manual credit/debit above it needs --force
    date_horizon_back: int = Field(13, ge=1)  # months before now that a given date may fall in
    date_horizon_ahead: int = Field(1, ge=0)  # months after now
    amqp_url: str | None = None
    amqp_bookkeeper_type: str = Field("couch_bookkeeper", min_length=1)
    amqp_queue: str = Field("couch_bookkeeper_shared_listener", min_length=1)
    amqp_workers: int = Field(16, ge=1)

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
        out = self.model_dump(mode="json", exclude={"couch_password", "couch_iam_apikey"})
        for name in ("couch_url", "amqp_url"):
            if out.get(name):
                out[name] = redact(out[name])
        if not self.couch_url:
            out["couch_url"] = (
                f"http://127.0.0.1:{self.embedded_port} (the embedded server, data in "
                f"{self.var_dir / 'couch'}; set BOOKKEEPER_COUCH_URL to use another)"
            )
        return out


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides) -> Config:
    """Defaults, then the TOML file (`BOOKKEEPER_CONFIG` or `path`), then the environment (`os.environ` unless `env`
    is given), then `overrides` that are not None."""
    env = os.environ if env is None else env
    path = path or env.get(f"{ENV_PREFIX}CONFIG")
    values: dict = {}
    if path:
        if not Path(path).is_file():
            raise InputError(str(path), None, "cannot read settings: no such file")
        try:
            values.update(TomlConfigSettingsSource(Config, toml_file=Path(path))())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(str(path), None, f"cannot read settings: {exc}") from None
    from_env = _Environment(env)()
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Config(**{**values, **from_env, **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        if field in from_env and field not in given:
            raise InputError(f"{ENV_PREFIX}{field.upper()}", None, err["msg"]) from None
        raise InputError(str(path or "settings"), field, err["msg"]) from None


class _Environment(EnvSettingsSource):
    """`BOOKKEEPER_*` variables of a given mapping (a test passes its own instead of the process's)."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env
        super().__init__(Config, env_ignore_empty=True)

    def _load_env_vars(self):
        return {key.lower(): value for key, value in self._env.items() if value}
