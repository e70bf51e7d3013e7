"""Hypothesis properties of pricing and merging."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bookkeeper.plans import load_plan, price_item, tier
from bookkeeper.plans.jsonmerge import merge_recursive
from bookkeeper.plans.merge import cumulative_item

money = st.decimals(min_value=0, max_value=1000, places=2)
counts = st.integers(min_value=0, max_value=500)
tiers = st.dictionaries(st.integers(1, 300).map(str), money, min_size=1, max_size=6)


def item(doc):
    return load_plan({"_id": "p", "plan": {"c": {"i": doc}}}).plan["c"]["i"]


@given(st.sets(st.integers(1, 300), min_size=1, max_size=6), counts, counts)
def test_tier_selection_is_monotone_in_key(keys, a, b):
    """A quantity selects a tier whose key holds it, and a larger quantity never selects a smaller tier key. (Each
    tier's rate is its own key here, so the rate tier() returns names the tier it chose.)"""
    rates = {str(k): Decimal(k) for k in keys}
    lo, hi = sorted((a, b))
    if tier(rates, hi) is not None:
        assert lo <= tier(rates, lo) <= tier(rates, hi) and hi <= tier(rates, hi)
    assert (tier(rates, hi) is None) == (hi > max(keys))


@given(counts, st.integers(0, 200), st.integers(0, 200), st.integers(1, 10), money)
def test_billable_is_clamped(quantity, minimum, extra, step, rate):
    maximum = minimum + extra
    line = price_item("c", "i", item({"rate": rate, "minimum": minimum, "maximum": maximum, "step": step}), quantity)
    stepped = lambda x: -(-x // step) * step  # noqa: E731
    assert stepped(minimum) <= line.billable <= stepped(maximum)
    assert line.billable % step == 0
    assert line.total == line.billable * rate


@given(
    counts,
    money,
    st.one_of(st.none(), money),
    st.one_of(st.none(), money),
    counts,
    st.one_of(st.none(), tiers),
    st.one_of(st.none(), tiers),
)
def test_discounts_are_kazoos_sum_and_the_total_is_gross_less_discounts(
    quantity, rate, single, cumulative, maximum, rates, cum_rates
):
    discounts = {
        "single": {} if single is None else {"rate": single},
        "cumulative": {
            "maximum": maximum,
            **({} if cumulative is None else {"rate": cumulative}),
            **({} if cum_rates is None else {"rates": cum_rates}),
        },
    }
    doc = {"rate": rate, "discounts": discounts, **({"rates": rates} if rates else {})}
    line = price_item("c", "i", item(doc), quantity)
    # KAZOO does not cap the discount at the line (kz_services_item:calculate_total/1): the total may be negative
    assert (
        line.discount_total
        == line.single_discount_rate + line.cumulative_discount_quantity * line.cumulative_discount_rate
        >= 0
    )
    assert line.cumulative_discount_quantity <= line.billable
    assert line.total == line.gross - line.discount_total


def shaped(depth: int):
    """Documents of one fixed shape (a key is always an object or always a scalar), as plan documents are."""
    scalar = st.one_of(st.integers(-5, 5), st.text("ab", max_size=2), st.booleans())
    if depth == 0:
        return st.fixed_dictionaries({}, optional={"p": scalar, "q": scalar})
    inner = shaped(depth - 1)
    return st.fixed_dictionaries({}, optional={"p": scalar, "q": scalar, "x": inner, "y": inner})


objects = shaped(2)


@given(objects, objects, objects)
def test_recursive_merge_is_associative(a, b, c):
    """KAZOO's deep merge is associative on consistently shaped documents (mixed types at one key are not)."""
    assert merge_recursive(merge_recursive(a, b), c) == merge_recursive(a, merge_recursive(b, c))


item_plans = st.fixed_dictionaries(
    {},
    optional={
        "rate": money,
        "activation_charge": money,
        "minimum": counts,
        "step": st.integers(1, 5),
        "name": st.text("xy", min_size=1, max_size=2),
        "cascade": st.booleans(),
        "exceptions": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
        "rates": st.dictionaries(st.sampled_from(["1", "5", "10"]), money, min_size=1, max_size=3),
        "prorate": st.fixed_dictionaries({}, optional={"additions": st.booleans(), "removals": st.booleans()}),
        "discounts": st.fixed_dictionaries(
            {}, optional={"cumulative": st.fixed_dictionaries({}, optional={"maximum": counts, "rate": money})}
        ),
    },
)


@given(item_plans, item_plans, item_plans)
def test_cumulative_merge_is_associative(a, b, c):
    """Associative except for an empty tier object, which kz_json:merge lets wipe what it meets."""
    assert (
        cumulative_item([cumulative_item([a, b]), c])
        == cumulative_item([a, cumulative_item([b, c])])
        == cumulative_item([a, b, c])
    )
