"""configs_bookkeeper: defaults, validation with the document and field named, reseller -> master -> defaults."""

from decimal import Decimal

import pytest

from bookkeeper.errors import InputError
from bookkeeper.settings import billing_settings_from_doc, resolve_billing_settings


def test_defaults_are_charging_md_table():
    s = billing_settings_from_doc(None)
    assert (s.currency, s.billing_day, s.timezone, s.daily_categories) == ("USD", 1, "UTC", ())
    assert s.prorate_late_mrc and s.block_on_negative
    assert s.cancel_on_insufficient_funds == ("limits",)
    assert (s.vat_rate, s.vat_disposition, s.invoice) == (Decimal(0), "netto", {})


def test_billing_day_31_names_document_and_field():
    with pytest.raises(InputError) as err:
        billing_settings_from_doc({"_id": "configs_bookkeeper", "billing_day": 31})
    assert (err.value.where, err.value.field, err.value.problem) == (
        "configs_bookkeeper",
        "billing_day",
        "must be 1..28, got 31",
    )


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"currency": "XYZ"}, "currency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"vat_disposition": "gross"}, "vat_disposition"),
        ({"vat_rate": 120}, "vat_rate"),
        ({"cancel_on_insufficient_funds": ["devices"]}, "cancel_on_insufficient_funds"),
        ({"billing_day": "15"}, "billing_day"),
        ({"daily_categories": "limits"}, "daily_categories"),
    ],
)
def test_invalid_values(doc, field):
    with pytest.raises(InputError) as err:
        billing_settings_from_doc(doc, where="resellers.master.settings")
    assert (err.value.where, err.value.field) == ("resellers.master.settings", field)


def test_extra_keys_kept_couch_metadata_dropped():
    s = billing_settings_from_doc({"_id": "configs_bookkeeper", "_rev": "1-x", "vat_rate": 0.2, "ledger_label": "x"})
    assert s.model_extra == {"ledger_label": "x"}
    assert s.vat_rate == Decimal("0.2")


def test_eur_reseller_billing_day_15_under_usd_master_key_by_key():
    master = {"_id": "configs_bookkeeper", "currency": "USD", "timezone": "Europe/Berlin", "vat_rate": 19}
    reseller = {"_id": "configs_bookkeeper", "currency": "EUR", "billing_day": 15}
    s = resolve_billing_settings(reseller, master)
    assert (s.currency, s.billing_day, s.timezone, s.vat_rate) == ("EUR", 15, "Europe/Berlin", Decimal(19))
    assert resolve_billing_settings(None, None) == billing_settings_from_doc({})
    assert resolve_billing_settings(None, master).currency == "USD"


def test_error_in_master_doc_names_the_master():
    with pytest.raises(InputError) as err:
        resolve_billing_settings(
            {"billing_day": 2}, {"billing_day": 0}, reseller_where="reseller", master_where="master"
        )
    assert (err.value.where, err.value.field) == ("master", "billing_day")
