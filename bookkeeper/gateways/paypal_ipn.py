"""PayPal Instant Payment Notification (IPN), `POST /hooks/paypal/<reseller_id>`.

Genuineness: the message is posted back unchanged, prefixed with `cmd=_notify-validate`, to PayPal's
verification endpoint (POST, as PayPal documents; OnNet used PUT); only `VERIFIED` is accepted. Then, as
OnNet's cb_paypal plus the checks it lacked: `receiver_id` (and `receiver_email` when configured) must be the
reseller's, the payer account is `custom`, and the currency and amount are checked by the Cashier.
`Completed` credits `payment:paypal:<txn_id>`; `Refunded` and `Reversed` (a chargeback) debit
`refund:paypal:<txn_id>` of the original `parent_txn_id`; any other status is answered 200 and ignored.
The answer is 200 once handled (no "repeat" error to make PayPal resend).
"""

from __future__ import annotations

import requests

from .base import HookError, Inbound, Movement, Notice, amount_from_text, parse_form, require
from .config import PayPalConfig

NAME = "paypal"
VERIFY_URLS = {
    "live": "https://ipnpb.paypal.com/cgi-bin/webscr",
    "sandbox": "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr",
}
REVERSALS = ("Refunded", "Reversed")


def _charset(body: bytes) -> str:
    """PayPal names the body's encoding in its `charset` field (default windows-1252)."""
    declared = parse_form(body, "latin-1").get("charset") or "windows-1252"
    return declared.strip().lower()


def verify(body: bytes, config: PayPalConfig) -> None:
    """Post the message back; 403 unless PayPal answers VERIFIED, 503 if it cannot be asked."""
    url = config.verify_url or VERIFY_URLS[config.environment]
    try:
        resp = requests.post(
            url,
            data=b"cmd=_notify-validate&" + body,
            timeout=config.timeout,
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "couch-bookkeeper-ipn"},
        )
    except requests.RequestException as exc:
        raise HookError(503, f"PayPal verification unavailable: {exc.__class__.__name__}") from None
    answer = resp.text.strip()
    if resp.status_code != 200 or answer not in ("VERIFIED", "INVALID"):
        raise HookError(503, f"PayPal verification answered HTTP {resp.status_code}")
    if answer != "VERIFIED":
        raise HookError(403, "PayPal says the message is not genuine (INVALID)")


def notice(inbound: Inbound, config: PayPalConfig) -> Notice:
    """Verify one IPN message and say what it moves."""
    fields = parse_form(inbound.body, _charset(inbound.body))
    require(fields, "txn_id", "payment_status", "receiver_id")
    verify(inbound.body, config)
    if fields["receiver_id"] != config.receiver_id:
        raise HookError(422, f"receiver_id: {fields['receiver_id']} is not this reseller's PayPal account")
    if config.receiver_email and fields.get("receiver_email", "").lower() != config.receiver_email.lower():
        raise HookError(422, "receiver_email: not this reseller's PayPal account")
    status = fields["payment_status"]
    if status != "Completed" and status not in REVERSALS:
        return Notice(note=f"ignored: payment_status {status}", raw=fields)
    require(fields, "mc_gross", "mc_currency", "custom")
    currency = fields["mc_currency"]
    amount = amount_from_text(fields["mc_gross"], currency, "mc_gross")
    if status == "Completed":
        if amount <= 0:
            raise HookError(422, f"mc_gross: a completed payment must be positive, got {amount}")
        movement = Movement(
            NAME, "credit", fields["custom"], amount, currency, fields["txn_id"], f"PayPal payment {fields['txn_id']}"
        )
    else:
        require(fields, "parent_txn_id")
        amount = abs(amount)  # PayPal reports a reversal's mc_gross negative
        movement = Movement(
            NAME,
            "debit",
            fields["custom"],
            amount,
            currency,
            fields["parent_txn_id"],
            f"PayPal {status.lower()} payment {fields['parent_txn_id']}",
            reversal_id=fields["txn_id"],
        )
    return Notice((movement,), raw=fields)
