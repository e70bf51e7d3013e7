"""Date bounds (issue: hostile input, point 1): a date a person or a document gives must be from the account's
creation and within the configured horizon around now, or every month in between would get a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from bookkeeper.dbnames import account_db, parse_db_name, to_gregorian
from bookkeeper.ledger import documents as d
from cli import main


def modbs(couch, account) -> list[tuple[int, int]]:
    return sorted(
        p.month_of
        for p in map(parse_db_name, couch.all_dbs())
        if p is not None and p.month_of is not None and p.account_id == account
    )


MASTER = "0" * 32  # the master of the `account` fixture's accounts (tests/ledger/conftest.py)
CLI_ENV = {"BOOKKEEPER_MASTER_ACCOUNT": MASTER}


def credit(server, account, at, *more, env=None):
    return CliRunner().invoke(
        main,
        [
            "--couch-url",
            server.url,
            "ledger",
            "credit",
            account,
            "1",
            "--currency",
            "USD",
            "--reason",
            "manual_addition",
            "--description",
            "x",
            "--at",
            at,
            *more,
        ],
        env={**CLI_ENV, **(env or {})},
    )


def test_a_far_past_or_far_future_date_is_refused_and_creates_no_database(server, couch, account):
    for at in ("0001-01-01T00:00:00Z", "1990-05-01T00:00:00Z", "2999-01-01T00:00:00Z"):
        result = credit(server, account, at)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: credit for {account}: at: {at[:19]}+00:00 is out of bounds: from ")
        assert result.stderr.count("\n") == 1
    assert modbs(couch, account) == []


def test_the_horizon_is_configurable_and_months_within_it_are_carried_forward(server, couch, account):
    now = datetime.now(UTC)
    back = d.month_start(*d.add_months(d.month_of(now), -5)) + timedelta(days=2)
    refused = credit(server, account, back.isoformat(), env={"BOOKKEEPER_DATE_HORIZON_BACK": "4"})
    assert refused.exit_code == 2 and "(4 months back)" in refused.stderr
    assert credit(server, account, back.isoformat(), "--json").exit_code == 0  # 13 months back by default
    assert credit(server, account, now.isoformat()).exit_code == 0
    assert modbs(couch, account) == [d.add_months(d.month_of(now), -n) for n in range(5, -1, -1)]
    verified = CliRunner().invoke(main, ["--couch-url", server.url, "ledger", "verify", account], env=CLI_ENV)
    assert (verified.exit_code, verified.output) == (0, "sound\n")
    balance = CliRunner().invoke(
        main, ["--couch-url", server.url, "ledger", "balance", account, "--currency", "USD", "--json"], env=CLI_ENV
    )
    assert json.loads(balance.output)["balance"] == 2


def test_a_date_before_the_account_was_created_is_refused(server, couch, account):
    now = datetime.now(UTC)
    created = now - timedelta(days=40)
    couch.db(account_db(account)).put({"_id": account, "pvt_type": "account", "pvt_created": to_gregorian(created)})
    result = credit(server, account, (created - timedelta(hours=1)).isoformat())
    assert result.exit_code == 2 and "(the account's creation)" in result.stderr, result.output
    assert modbs(couch, account) == []
    assert credit(server, account, (created + timedelta(hours=1)).isoformat()).exit_code == 0


def test_a_rollover_of_a_month_before_the_account_existed_creates_nothing(server, couch, account):
    now = datetime.now(UTC)
    created = d.month_start(*d.month_of(now)) + timedelta(hours=1)
    couch.db(account_db(account)).put({"_id": account, "pvt_type": "account", "pvt_created": to_gregorian(created)})
    earlier = d.add_months(d.month_of(now), -2)
    rolled = CliRunner().invoke(
        main,
        [
            "--couch-url",
            server.url,
            "ledger",
            "rollover",
            "--month",
            f"{earlier[0]:04d}-{earlier[1]:02d}",
            "--account",
            account,
        ],
    )
    assert rolled.exit_code == 0, rolled.output
    assert modbs(couch, account) == []
