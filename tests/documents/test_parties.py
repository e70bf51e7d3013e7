"""Invoice settings and the customer's address: bad input names the document and the field."""

from __future__ import annotations

import pytest

from bookkeeper.documents.parties import customer, invoice_settings
from bookkeeper.errors import InputError

WHERE = "account/aa/bb/cc/configs_bookkeeper"


@pytest.mark.parametrize(
    "invoice,field,problem",
    [
        ({"locale": "xx_YY"}, "invoice.locale", "unknown locale"),
        ({"number_prefix": "PT 1"}, "invoice.number_prefix", "letters, digits"),
        ({"smtp": {"port": 25}}, "invoice.smtp.host", "Field required"),
        ({"mail": True}, "invoice.mail", "needs invoice.smtp.host and invoice.from"),
        ({"colour": "red"}, "invoice.colour", "Extra inputs"),
    ],
)
def test_bad_invoice_settings_name_the_document_and_field(invoice, field, problem):
    with pytest.raises(InputError, match=f"^{WHERE}: {field}: .*{problem}"):
        invoice_settings(invoice, WHERE)


def test_smtp_password_is_not_in_the_settings_repr():
    s = invoice_settings({"mail": True, "from": "b@x.example", "smtp": {"host": "h", "password": "pw-123"}}, WHERE)
    assert "pw-123" not in repr(s)


def test_customer_address_from_kazoo_contact_or_onnet_lines():
    kazoo = customer(
        {
            "_id": "a",
            "name": "Acme",
            "contact": {
                "billing": {
                    "name": "Ann Admin",
                    "street_address": "1 Main St",
                    "locality": "Springfield",
                    "postal_code": "12345",
                    "country": "US",
                }
            },
        }
    )
    assert (kazoo.name, kazoo.address) == ("Acme", ("Attn. Ann Admin", "1 Main St", "12345 Springfield", "US"))
    onnet = customer({"_id": "b", "name": "OOO Romashka", "billing_address": {"line2": "Moscow", "line1": "Lenina 1"}})
    assert onnet.address == ("Lenina 1", "Moscow")
