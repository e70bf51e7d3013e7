"""docs/kazoo.md worked examples and the golden README quote, to the cent, in Decimal."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper.plans import dumps, invoice_json, load_plan, load_quantities, loads, merge_plans, price, tier

GOLDEN = Path(__file__).parent / "golden"  # KAZOO's README example, worked by hand
D = Decimal


def one(item: dict, quantity: int, category: str = "c", key: str = "i", cascade: dict | None = None):
    plan = load_plan({"_id": "p", "plan": {category: {key: item}}})
    [line] = price(plan, {category: {key: quantity}}, cascade).items
    return line


def test_readme_example():
    plan = load_plan(
        {
            "_id": "plan_readme",
            "plan": {
                "phone_numbers": {"did_us": {"rate": 1, "cascade": True}},
                "users": {"_all": {"as": "user", "rate": D("18.99"), "cascade": True}},
            },
        }
    )
    invoice = price(
        plan,
        {"phone_numbers": {"did_us": 4}, "users": {"admin": 1, "user": 2}},
        {"phone_numbers": {"did_us": 10}, "users": {"user": 5}},
    )
    did, users = invoice.items
    assert (did.quantity, did.billable, did.total) == (14, 14, D("14"))
    assert (users.item, users.name, users.quantity, users.total) == ("user", "users", 8, D("151.92"))
    assert invoice.recurring == D("165.92")


def test_golden_quote_readme():
    read = lambda name: loads((GOLDEN / f"quote-readme.{name}.json").read_text(), name)  # noqa: E731
    [merged] = merge_plans([load_plan(read("plan"))])
    invoice = price(merged, load_quantities(read("quantities"), "q"), load_quantities(read("cascade"), "c"))
    got = json.loads(dumps(invoice_json(invoice)))
    expected = json.loads((GOLDEN / "quote-readme.expected.json").read_text())
    assert got["summary"]["recurring"] == expected["summary"]["recurring"] == 165.92
    for want, line in zip(expected["items"], got["items"], strict=True):
        assert {k: line[k] for k in want} == want


@pytest.mark.parametrize("quantity,total", [(3, "0"), (12, "299.40"), (150, "0")])
def test_tiers(quantity, total):
    line = one({"rates": {"5": 0, "20": D("24.95"), "50": D("49.95"), "100": D("149.95")}}, quantity)
    assert line.total == D(total)


def test_tier_is_smallest_key_at_or_above():
    rates = {"10": D(3), "5": D(5), "100": D(1)}
    assert [tier(rates, q) for q in (0, 5, 6, 10, 11, 100, 101)] == [5, 5, 3, 3, 1, 1, None]


def test_cumulative_discount():
    line = one({"rate": 1, "discounts": {"cumulative": {"maximum": 2, "rate": D("0.5")}}}, 3)
    assert (line.billable, line.cumulative_discount_quantity, line.discount_total, line.total) == (3, 2, 1, D("2.0"))


def test_cumulative_discount_without_maximum_discounts_nothing():
    assert one({"rate": 1, "discounts": {"cumulative": {"rate": D("0.5")}}}, 3).total == 3


def test_cumulative_discount_tiers_keyed_on_discounted_quantity():
    line = one({"rate": 2, "discounts": {"cumulative": {"maximum": 4, "rates": {"3": 1, "10": D("0.25")}}}}, 9)
    assert (line.cumulative_discount_quantity, line.cumulative_discount_rate, line.total) == (4, D("0.25"), 17)


@pytest.mark.parametrize("quantity,total", [(3, 10), (0, 0)])
def test_single_discount(quantity, total):
    assert one({"rate": 5, "discounts": {"single": {"rate": 5}}}, quantity).total == total


def test_discount_needs_item_rate_and_minimum():
    assert one({"rates": {"10": 4}, "discounts": {"single": {"rate": 1}}}, 3).total == 12
    assert one({"rate": 4, "discounts": {"single": {"rate": 1, "minimum": 5}}}, 3).total == 12
    assert one({"rate": 4, "discounts": {"single": {"rate": 1, "minimum": 3}}}, 3).total == 11
    assert one({"rate": 4, "discounts": {"single": {}}}, 3).total == 8


def test_minimum():
    line = one({"rate": 5, "minimum": 10}, 2)
    assert (line.billable, line.total) == (10, 50)


def test_maximum_caps_billable():
    line = one({"rate": 2, "maximum": 5}, 9)
    assert (line.quantity, line.billable, line.total) == (9, 5, 10)


def test_flat_rates_and_flat_rate():
    line = one({"flat_rates": {"10": 50, "100": 300}}, 7)
    assert (line.billable, line.total) == (1, 50)
    assert one({"flat_rates": {"10": 50, "100": 300}}, 11).total == 300
    assert one({"flat_rates": {"10": 50}, "rate": 2}, 11).total == 22
    assert one({"flat_rate": D("9.99"), "rate": 2}, 11).total == D("9.99")
    assert one({"flat_rate": 0, "rate": 2}, 11).total == 22


def test_step():
    line = one({"rate": 1, "step": 5}, 7)
    assert (line.billable, line.total) == (10, 10)


def test_all_with_exceptions_and_default_name():
    plan = load_plan({"_id": "p", "plan": {"devices": {"_all": {"rate": 2, "exceptions": ["softphone"]}}}})
    [line] = price(plan, {"devices": {"sip_device": 3, "softphone": 4, "fax": 1}}).items
    assert (line.item, line.name, line.quantity, line.total) == ("_all", "devices", 4, 8)


def test_zero_quantity_items_are_listed_and_cascade_only_with_flag():
    plan = load_plan({"_id": "p", "plan": {"devices": {"sip_device": {"rate": 1}, "fax": {"rate": 3}}}})
    invoice = price(plan, {"devices": {"sip_device": 2}}, {"devices": {"sip_device": 10, "fax": 5}})
    assert [(i.item, i.quantity, i.total) for i in invoice.items] == [("sip_device", 2, 2), ("fax", 0, 0)]


def test_activation_charges():
    plan = load_plan({"_id": "p", "plan": {"devices": {"sip_device": {"rate": 1, "activation_charge": 3}}}})
    current = price(plan, {"devices": {"sip_device": 1}})
    proposed = price(plan, {"devices": {"sip_device": 3}}, current=current)
    [charge] = proposed.activation_charges
    assert (charge.billable, charge.rate, charge.total, proposed.today) == (2, 3, 6, 6)
    assert price(plan, {"devices": {"sip_device": 0}}, current=current).activation_charges == ()


def test_no_activation_charge_under_minimum():
    plan = load_plan(
        {"_id": "p", "plan": {"devices": {"sip_device": {"rate": 1, "minimum": 5, "activation_charge": 3}}}}
    )
    current = price(plan, {})
    assert price(plan, {"devices": {"sip_device": 4}}, current=current).today == 0
    assert price(plan, {"devices": {"sip_device": 7}}, current=current).today == 6


def test_an_oversized_discount_makes_the_total_negative_as_in_kazoo():
    # KAZOO 4.3 kz_services_item:calculate_total/1 does not cap: single (the item rate, 1) + cumulative over
    # min(10, 3) = 3 units at the item rate (1) = 4.00 of discount on a 3 × 1 = 3.00 line: total -1.00
    line = one({"rate": 1, "discounts": {"single": {}, "cumulative": {"maximum": 10}}}, 3)
    assert (line.discount_total, line.total) == (4, -1)


def test_prorate_flags_default_and_echo():
    assert (one({"rate": 1}, 1).prorate_additions, one({"rate": 1}, 1).prorate_removals) == (True, False)
    line = one({"rate": 1, "prorate": {"additions": False, "removals": True}}, 1)
    assert (line.prorate_additions, line.prorate_removals) == (False, True)


def test_invoice_json_shape():
    plan = load_plan(
        {
            "_id": "p",
            "plan": {
                "phone_numbers": {
                    "did_us": {
                        "rate": 1,
                        "minimum": 2,
                        "activation_charge": D("1.5"),
                        "discounts": {"cumulative": {"maximum": 2, "rate": D("0.5")}},
                    }
                }
            },
        }
    )
    invoice = price(plan, {"phone_numbers": {"did_us": 3}}, current=price(plan, {}))
    out = json.loads(dumps(invoice_json(invoice)))
    assert out["items"] == [
        {
            "category": "phone_numbers",
            "item": "did_us",
            "name": "phone_numbers/did_us",
            "quantity": 3,
            "billable": 3,
            "rate": 1,
            "discounts": {"total": 1, "cumulative": {"rate": 0.5, "quantity": 2}},
            "minimum": 2,
            "maximum": 3,
            "activation_charge": 1.5,
            "prorate": {"additions": True, "removals": False},
            "total": 2,
        }
    ]
    assert out["activation_charges"] == [
        {
            "category": "phone_numbers",
            "item": "did_us",
            "name": "phone_numbers/did_us",
            "billable": 1,
            "rate": 1.5,
            "total": 1.5,
        }
    ]
    assert (out["taxes"], out["summary"]) == ([], {"today": 1.5, "recurring": 2})
