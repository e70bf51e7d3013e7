"""A KAZOO 4.3 invoice (docs/kazoo.md): one line per plan item, activation charges, summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .merge import MergedPlan, merge_plans
from .models import ServicePlan
from .pricing import ZERO, LineItem, Quantities, item_quantity, price_item


@dataclass(frozen=True)
class ActivationCharge:
    """One-time charge for newly added billable units of one item."""

    category: str
    item: str
    name: str
    billable: int
    rate: Decimal

    @property
    def total(self) -> Decimal:
        return self.billable * self.rate


@dataclass(frozen=True)
class Invoice:
    items: tuple[LineItem, ...]
    activation_charges: tuple[ActivationCharge, ...]
    plan: ServicePlan
    bookkeeper: Mapping[str, str]

    @property
    def recurring(self) -> Decimal:
        return sum((i.total for i in self.items), ZERO)

    @property
    def today(self) -> Decimal:
        return sum((a.total for a in self.activation_charges), ZERO)


def activation_charges(current: Invoice | None, proposed_items: tuple[LineItem, ...]) -> tuple[ActivationCharge, ...]:
    """For each item whose billable quantity rises, `rise × activation_charge` (docs/kazoo.md), named by
    the plan key (`_all`), as `kz_services_activation_item:create/1` names it, not by the `as` name.

    Lines are matched on (category, item, masquerading); a line missing from `current` had billable 0."""
    before = {i.match_key: i.billable for i in current.items} if current else {}
    out = []
    for line in proposed_items:
        rise = line.billable - before.get(line.match_key, 0)
        if rise > 0 and line.activation_charge > 0:
            out.append(ActivationCharge(line.category, line.key, line.name, rise, line.activation_charge))
    return tuple(out)


def price(
    merged: MergedPlan | ServicePlan,
    quantities: Quantities,
    cascade_quantities: Quantities | None = None,
    *,
    current: Invoice | None = None,
) -> Invoice:
    """The invoice of one merged plan. Activation charges are counted against `current` (None: no charges).

    `quantities` are the account's own (manual quantities already applied, see `apply_manual`);
    `cascade_quantities` the sum over its descendants, used by items with `cascade: true`."""
    plan = merged.plan if isinstance(merged, MergedPlan) else merged
    bookkeeper = merged.bookkeeper if isinstance(merged, MergedPlan) else {}
    cascade = cascade_quantities or {}
    items = tuple(
        price_item(category, key, item, item_quantity(category, key, item, quantities, cascade))
        for category, entries in plan.plan.items()
        for key, item in entries.items()
    )
    return Invoice(items, activation_charges(current, items) if current else (), plan, bookkeeper)


def item_json(line: LineItem) -> dict[str, Any]:
    """`kz_services_item:public_json/1`; `rate` and `total` always present, zero discounts/minimum/maximum omitted."""
    out: dict[str, Any] = {
        "category": line.category,
        "item": line.item,
        "name": line.name,
        "quantity": line.quantity,
        "billable": line.billable,
        "rate": line.rate,
    }
    discounts: dict[str, Any] = {}
    if line.discount_total:
        discounts["total"] = line.discount_total
    if line.single_discount_rate:
        discounts["single"] = {"rate": line.single_discount_rate}
    cumulative = {
        k: v for k, v in (("rate", line.cumulative_discount_rate), ("quantity", line.cumulative_discount_quantity)) if v
    }
    if cumulative:
        discounts["cumulative"] = cumulative
    if discounts:
        out["discounts"] = discounts
    if line.minimum:
        out["minimum"] = line.minimum
    if line.maximum:
        out["maximum"] = line.maximum
    if line.activation_charge:
        out["activation_charge"] = line.activation_charge
    out["prorate"] = {"additions": line.prorate_additions, "removals": line.prorate_removals}
    out["total"] = line.total
    return out


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """`kz_services_invoice:public_json/1` with Decimal numbers (print with `jsontext.dumps`)."""
    return {
        "items": [item_json(line) for line in invoice.items],
        "activation_charges": [
            {
                "category": a.category,
                "item": a.item,
                "name": a.name,
                "billable": a.billable,
                "rate": a.rate,
                "total": a.total,
            }
            for a in invoice.activation_charges
        ],
        "taxes": [],
        "summary": {"today": invoice.today, "recurring": invoice.recurring},
        "plan": {c: {k: i.dump() for k, i in items.items()} for c, items in invoice.plan.plan.items()},
        "bookkeeper": dict(invoice.bookkeeper),
    }


def quote(
    plans: list[ServicePlan],
    quantities: Quantities,
    cascade_quantities: Quantities | None = None,
    current: Quantities | None = None,
    dialect: str = "4.3",
) -> dict[str, Any]:
    """`bookkeeper plans quote` (docs/contracts.md): the invoice JSON of the merged plans. Activation charges count
    units above `current` (default: none, a new account). Several bookkeeper groups give `invoices` + a summary."""
    invoices = []
    for merged in merge_plans(plans, dialect=dialect):
        before = price(merged, current or {}, cascade_quantities)
        invoices.append(invoice_json(price(merged, quantities, cascade_quantities, current=before)))
    if len(invoices) == 1:
        return invoices[0]
    return {
        "invoices": invoices,
        "summary": {key: sum((i["summary"][key] for i in invoices), ZERO) for key in ("today", "recurring")},
    }
