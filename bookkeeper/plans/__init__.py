"""Service plans, pure: KAZOO plan documents, merging, item pricing, invoices, quantities. No I/O.

plan = load_plan(doc, where="plan_x")                     # ServicePlan, or InputError naming the field
[merged] = merge_plans([plan], overrides={"plan_x": {...}})  # one MergedPlan per bookkeeper
invoice = price(merged, quantities, cascade_quantities)   # Decimal totals, KAZOO 4.3 algorithm
invoice_json(invoice)                                     # KAZOO's invoice JSON (Decimal numbers)
quantities_of(doc)                                        # one KAZOO document's {category: {item: n}}
"""

from ..jsontext import dumps, loads
from .assignment import assign, unassign
from .counters import Counter, check_view, counter_quantities, load_counters, priced_counters
from .invoice import ActivationCharge, Invoice, activation_charges, invoice_json, item_json, price, quote
from .merge import DEFAULT_BOOKKEEPER, MergedPlan, merge_plans
from .models import ItemPlan, ServicePlan
from .pricing import LineItem, price_item, tier
from .quantities import (
    CLASSIFIERS,
    add_quantities,
    apply_manual,
    cascade_sum,
    classify,
    from_view_rows,
    kazoo42_quantities,
    problems,
    quantities_of,
    resolve_substitutes,
    subtract_quantities,
)
from .validate import load_plan, load_quantities, validate_plan_document

__all__ = [
    "CLASSIFIERS",
    "DEFAULT_BOOKKEEPER",
    "ActivationCharge",
    "Counter",
    "Invoice",
    "ItemPlan",
    "LineItem",
    "MergedPlan",
    "ServicePlan",
    "activation_charges",
    "add_quantities",
    "apply_manual",
    "assign",
    "cascade_sum",
    "check_view",
    "classify",
    "counter_quantities",
    "dumps",
    "from_view_rows",
    "invoice_json",
    "item_json",
    "kazoo42_quantities",
    "load_counters",
    "load_plan",
    "load_quantities",
    "loads",
    "merge_plans",
    "price",
    "price_item",
    "priced_counters",
    "problems",
    "quantities_of",
    "quote",
    "resolve_substitutes",
    "subtract_quantities",
    "tier",
    "unassign",
    "validate_plan_document",
]
