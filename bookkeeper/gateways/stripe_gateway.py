"""Stripe webhooks, `POST /hooks/stripe/<reseller_id>`, verified with the SDK's `stripe.Webhook.construct_event`.

A payment is keyed by its PaymentIntent, so `checkout.session.completed` (paid) and `payment_intent.succeeded`
for the same payment credit once: `payment:stripe:<pi>`. The account is the session's `client_reference_id` or
`metadata.account_id`, the intent's `metadata.account_id` (an intent made by Checkout carries none: it is
credited through its session and the intent's event is ignored). `charge.refunded` debits each refund in
`refunds.data` as `refund:stripe:<re_id>` from the account the payment went to; a charge without that list
(newer API versions) is reversed whole, once, as `refund:stripe:<charge id>`, when `refunded` is true.
Amounts are integers of minor units (ISO 4217 digits; Stripe's exceptions such as ISK and HUF are not handled).
"""

from __future__ import annotations

import json
import time

import stripe

from .base import HookError, Inbound, Movement, Notice, amount_from_minor
from .config import StripeConfig

NAME = "stripe"


def _event(inbound: Inbound, config: StripeConfig) -> dict:
    header = inbound.headers.get("Stripe-Signature")
    if not header:
        raise HookError(400, "Stripe-Signature: missing")
    try:
        payload = inbound.body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            payload, header, config.webhook_secret.get_secret_value(), tolerance=config.tolerance
        )
    except stripe.SignatureVerificationError:
        raise HookError(403, "Stripe-Signature: signature mismatch or too old") from None
    except (ValueError, IndexError, TypeError):
        raise HookError(400, "body: not a Stripe event") from None
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > time.time() + config.tolerance:
        raise HookError(403, "Stripe-Signature: dated in the future beyond the tolerance")
    try:
        event = json.loads(payload)
    except ValueError:
        raise HookError(400, "body: not a Stripe event") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("type"), str)
        or not isinstance((event.get("data") or {}).get("object"), dict)
    ):
        raise HookError(400, "body: not a Stripe event")
    return event


def _currency(obj: dict) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str):
        raise HookError(422, "currency: missing")
    return currency.upper()


def _text(obj: dict, name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise HookError(422, f"{name}: missing")
    return value


def _account(obj: dict) -> str | None:
    given = obj.get("metadata")
    metadata = given if isinstance(given, dict) else {}
    found = obj.get("client_reference_id") or metadata.get("account_id")
    return found if isinstance(found, str) and found else None


def _credit(obj: dict, pi: str, amount_field: str, account: str) -> Movement:
    currency = _currency(obj)
    amount = amount_from_minor(obj.get(amount_field), currency, amount_field)
    return Movement(NAME, "credit", account, amount, currency, pi, f"Stripe payment {pi}")


def notice(inbound: Inbound, config: StripeConfig) -> Notice:
    """Verify one event and say what it moves."""
    event = _event(inbound, config)
    kind, obj = event["type"], event["data"]["object"]
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return Notice(note=f"ignored: checkout session not paid ({obj.get('payment_status')})", raw=event)
        account = _account(obj)
        if account is None:
            raise HookError(422, "client_reference_id: no payer account id on the checkout session")
        pi = obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else _text(obj, "id")
        return Notice((_credit(obj, pi, "amount_total", account),), raw=event)
    if kind == "payment_intent.succeeded":
        account = _account(obj)
        if account is None:
            return Notice(note="ignored: no metadata.account_id (credited through its checkout session)", raw=event)
        return Notice((_credit(obj, _text(obj, "id"), "amount_received", account),), raw=event)
    if kind == "charge.refunded":
        return Notice(_reversals(obj), raw=event)
    return Notice(note=f"ignored: event type {kind}", raw=event)


def _reversals(charge: dict) -> tuple[Movement, ...]:
    account = _account(charge)
    currency = _currency(charge)
    intent = charge.get("payment_intent")
    pi = intent if isinstance(intent, str) else _text(charge, "id")
    refunds = charge.get("refunds")
    if isinstance(refunds, dict) and isinstance(refunds.get("data"), list):
        out = []
        for refund in refunds["data"]:
            if not isinstance(refund, dict) or refund.get("status") == "failed":
                continue
            amount = amount_from_minor(refund.get("amount"), currency, "refunds.data.amount")
            out.append(
                Movement(
                    NAME,
                    "debit",
                    account,
                    amount,
                    currency,
                    pi,
                    f"Stripe refund of {pi}",
                    reversal_id=_text(refund, "id"),
                )
            )
        return tuple(out)
    if charge.get("refunded") is not True:
        return ()
    amount = amount_from_minor(charge.get("amount_refunded"), currency, "amount_refunded")
    return (
        Movement(
            NAME, "debit", account, amount, currency, pi, f"Stripe refund of {pi}", reversal_id=_text(charge, "id")
        ),
    )
