"""YooMoney (formerly Yandex.Money) wallet HTTP notifications, `POST /hooks/yoomoney/<reseller_id>`.

Genuineness: `sha1_hash` must be the SHA-1 of
`notification_type&operation_id&amount&currency&datetime&sender&codepro&notification_secret&label`
(YooMoney's documented order) with the reseller's secret. `label` is the payer's account id. `amount` (what
reached the wallet) is credited: it is signed, `withdraw_amount` is not. The currency is the numeric ISO code
643 (RUB, the only one YooMoney wallets take). Test notifications, code-protected (`codepro`) and held
(`unaccepted`) transfers are answered 200 and not credited. YooMoney reports no refunds.
"""

from __future__ import annotations

import hashlib
import hmac

from .base import HookError, Inbound, Movement, Notice, amount_from_text, parse_form, require
from .config import YooMoneyConfig

NAME = "yoomoney"
SIGNED = ("notification_type", "operation_id", "amount", "currency", "datetime", "sender", "codepro")
CURRENCIES = {"643": "RUB"}


def signature(fields: dict[str, str], secret: str) -> str:
    """The hex SHA-1 YooMoney sends as `sha1_hash`."""
    text = "&".join([*(fields.get(name, "") for name in SIGNED), secret, fields.get("label", "")])
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def notice(inbound: Inbound, config: YooMoneyConfig) -> Notice:
    """Verify one notification and say what it moves."""
    fields = parse_form(inbound.body)
    require(fields, "notification_type", "operation_id", "amount", "currency", "datetime", "sha1_hash")
    expected = signature(fields, config.notification_secret.get_secret_value())
    if not hmac.compare_digest(expected, fields["sha1_hash"].lower()):
        raise HookError(403, "sha1_hash: signature mismatch")
    for flag, why in (
        ("test_notification", "a test notification"),
        ("codepro", "a code-protected transfer"),
        ("unaccepted", "a transfer not accepted yet"),
    ):
        if fields.get(flag) == "true":
            return Notice(note=f"ignored: {why}", raw=fields)
    currency = CURRENCIES.get(fields["currency"])
    if currency is None:
        raise HookError(422, f"currency: {fields['currency']} is not a currency YooMoney wallets take (643)")
    if not fields.get("label"):
        raise HookError(422, "label: no payer account id")
    amount = amount_from_text(fields["amount"], currency, "amount")
    movement = Movement(
        NAME,
        "credit",
        fields["label"],
        amount,
        currency,
        fields["operation_id"],
        f"YooMoney payment {fields['operation_id']}",
    )
    return Notice((movement,), raw=fields)
