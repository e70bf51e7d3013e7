from datetime import UTC, datetime

import pytest

from bookkeeper.dbnames import account_db, encode, from_gregorian, modb, modb_prefix, parse_db_name, to_gregorian

ACCT = "5c36900d63069782e4e0b0ad2f131e45"


def test_account_and_modb_names():
    assert account_db(ACCT) == "account/5c/36/900d63069782e4e0b0ad2f131e45"
    assert modb(ACCT, 2026, 3) == "account/5c/36/900d63069782e4e0b0ad2f131e45-202603"
    assert encode(account_db(ACCT)) == "account%2F5c%2F36%2F900d63069782e4e0b0ad2f131e45"
    assert modb_prefix(2026, 3) == "202603-"


@pytest.mark.parametrize(
    "name",
    [
        "account/5c/36/900d63069782e4e0b0ad2f131e45-202611",
        "account%2F5c%2F36%2F900d63069782e4e0b0ad2f131e45-202611",
        "account5c36900d63069782e4e0b0ad2f131e45-202611",  # as PouchDB Server lists it
    ],
)
def test_parse_every_form_of_a_modb(name):
    parsed = parse_db_name(name)
    assert (parsed.account_id, parsed.year, parsed.month, parsed.is_modb) == (ACCT, 2026, 11, True)


def test_parse_rejects_other_names():
    assert parse_db_name("services") is None
    assert parse_db_name("account/zz/36/900d63069782e4e0b0ad2f131e45") is None
    assert parse_db_name("account/5c/36/900d") is None
    assert not parse_db_name(f"account/5c/36/{ACCT[4:]}").is_modb


def test_bad_account_id_is_refused():
    with pytest.raises(ValueError, match="32 lowercase hex"):
        account_db("ABC")


def test_gregorian_seconds_round_trip():
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    assert to_gregorian(moment) == 1772323200 + 62167219200
    assert from_gregorian(to_gregorian(moment)) == moment
    with pytest.raises(ValueError):
        to_gregorian(datetime(2026, 3, 1))
