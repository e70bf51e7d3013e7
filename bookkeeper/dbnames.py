"""KAZOO database names and timestamps (docs/kazoo.md).

An account id is 32 lowercase hex characters. Its database is `account/ab/cd/<28 hex>`, sent URL-encoded as
`account%2Fab%2Fcd%2F...`; its monthly database (MODB) adds `-YYYYMM`. PouchDB Server lists these names
flattened (`accountabcd...`); `parse_db_name` reads every form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard
from urllib.parse import quote

ACCOUNTS_DB = "accounts"
SERVICES_DB = "services"
GREGORIAN_UNIX_OFFSET = 62167219200

_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
_DB_NAME = re.compile(
    r"^account(?:/|%2F)?([0-9a-f]{2})(?:/|%2F)?([0-9a-f]{2})(?:/|%2F)?([0-9a-f]{28})(?:-(\d{4})(\d{2}))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DbName:
    """What a database name says: the account and, for a MODB, the year and month."""

    account_id: str
    year: int | None = None
    month: int | None = None

    @property
    def is_modb(self) -> bool:
        return self.month_of is not None

    @property
    def month_of(self) -> tuple[int, int] | None:
        """(year, month) of a monthly DB; None for an account DB."""
        return None if self.year is None or self.month is None else (self.year, self.month)


def is_account_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_ACCOUNT_ID.match(value))


def check_account_id(value) -> str:
    if not is_account_id(value):
        raise ValueError(f"not a KAZOO account id (32 lowercase hex): {value!r}")
    return value


def account_db(account_id: str) -> str:
    """Unencoded account DB name: `account/ab/cd/ef...`."""
    a = check_account_id(account_id)
    return f"account/{a[:2]}/{a[2:4]}/{a[4:]}"


def modb(account_id: str, year: int, month: int) -> str:
    """Unencoded monthly DB name: `account/ab/cd/ef...-YYYYMM`."""
    return f"{account_db(account_id)}-{year:04d}{month:02d}"


def encode(db_name: str) -> str:
    """The form used in a URL path: every `/` becomes `%2F`."""
    return quote(db_name, safe="")


def parse_db_name(name: str) -> DbName | None:
    """Parse any form (raw, encoded, PouchDB-flattened) of an account DB or MODB name; None if not one."""
    m = _DB_NAME.match(name)
    if not m:
        return None
    account = (m.group(1) + m.group(2) + m.group(3)).lower()
    if m.group(4):
        return DbName(account, int(m.group(4)), int(m.group(5)))
    return DbName(account)


def modb_prefix(year: int, month: int) -> str:
    """Ids of documents in a MODB start with this (`YYYYMM-`)."""
    return f"{year:04d}{month:02d}-"


def to_gregorian(moment: datetime) -> int:
    """An aware datetime -> Gregorian seconds (seconds since 0000-01-01 UTC), as KAZOO stores times."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a time zone")
    return int(moment.timestamp()) + GREGORIAN_UNIX_OFFSET


def from_gregorian(seconds: int) -> datetime:
    """Gregorian seconds -> an aware UTC datetime."""
    return datetime.fromtimestamp(int(seconds) - GREGORIAN_UNIX_OFFSET, tz=UTC)
