"""Scenario files are validated with one clear line naming the file and the field."""

import json
from decimal import Decimal

import pytest

from bookkeeper.errors import InputError
from simulator.scenario import load_scenario, parse_scenario

BASE = {
    "start": "2026-03-01T00:00:00Z",
    "until": "2026-04-02T00:00:00Z",
    "resellers": {
        "master": {
            "settings": {"currency": "USD"},
            "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}},
        }
    },
    "accounts": {"acme": {"plans": ["basic"], "balance": 100.00}},
    "events": [{"at": "2026-03-10T09:00:00Z", "account": "acme", "create": {"pvt_type": "device"}, "count": 2}],
}


def variant(**changes):
    data = json.loads(json.dumps(BASE))
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return data


def error(data) -> str:
    with pytest.raises(InputError) as err:
        parse_scenario(data, "s.json")
    return str(err.value)


def test_a_good_scenario_parses():
    scenario = parse_scenario(BASE, "s.json")
    assert scenario.order() == ["master", "acme"]
    assert scenario.events[0].count == 2 and scenario.spec("master").reseller


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"events__0__account": "nobody"}, "s.json: events[0].account: unknown account label 'nobody'"),
        (
            {"events__0__at": "2026-02-28T00:00:00Z"},
            "s.json: events[0].at: 2026-02-28T00:00:00Z is before start 2026-03-01T00:00:00Z",
        ),
        ({"events__0__at": "March 10th"}, "s.json: events[0].at: not an ISO-8601 time: 'March 10th'"),
        ({"start": "2026-13-01T00:00:00Z"}, "s.json: start: not an ISO-8601 time: '2026-13-01T00:00:00Z'"),
        (
            {"resellers__master__settings__billing_day": 31},
            "s.json: resellers.master.settings.billing_day: must be 1..28, got 31",
        ),
        (
            {"accounts__acme__plans": ["gold"]},
            "s.json: accounts.acme.plans: plan 'gold' is not among resellers.master.plans",
        ),
        ({"accounts__acme__parent": "ghost"}, "s.json: accounts.acme.parent: unknown account label 'ghost'"),
        ({"accounts__acme__balance": "lots"}, "s.json: accounts.acme.balance: not an amount: 'lots'"),
        ({"events__0__count": 0}, "s.json: events[0].count: must be a whole number ≥ 1, got 0"),
        ({"dialect": "5.0"}, "s.json: dialect: must be 4.2 or 4.3, got '5.0'"),
    ],
)
def test_errors_name_the_field(changes, expected):
    assert error(variant(**changes)) == expected


def test_a_bad_plan_in_a_scenario_names_its_field():
    bad = variant(resellers__master__plans__basic__plan__devices__sip_device__rate="ten")
    assert error(bad) == 's.json: resellers.master.plans.basic.plan.devices.sip_device.rate: not a number: "ten"'


def test_an_unreadable_file_is_one_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    with pytest.raises(InputError, match=r"broken.json: not JSON: .* at line 1"):
        load_scenario(path)


def test_amounts_are_read_exactly_as_written(tmp_path):
    data = variant(events__0={"at": "2026-03-10T09:00:00Z", "account": "acme", "credit": 0})
    text = json.dumps(data).replace('"balance": 100.0', '"balance": 1234567.123456789012345')
    path = tmp_path / "exact.json"
    path.write_text(text.replace('"credit": 0', '"credit": 0.30000000000000000001'))
    scenario = load_scenario(path)
    assert scenario.spec("acme").balance == Decimal("1234567.123456789012345")
    assert scenario.events[0].body == Decimal("0.30000000000000000001")
