"""`bookkeeper hooks configure|show` and `bookkeeper pay topup` as a user runs them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main


def run(world, *args):
    env = {
        "BOOKKEEPER_NAMESPACE": world.config.namespace,
        "BOOKKEEPER_MASTER_ACCOUNT": world.master,
        "BOOKKEEPER_DIALECT": world.config.dialect,
    }
    return CliRunner().invoke(main, ["--couch-url", world.url, *args], env=env)


def test_configure_show_never_prints_secrets_and_topup(world, braintree_api, tmp_path):
    section = tmp_path / "bt.json"
    section.write_text(
        json.dumps(
            {
                "merchant_id": "acme",
                "public_key": "pub",
                "private_key": "top-secret-key",
                "environment": braintree_api.server.url,
            }
        )
    )
    configured = run(world, "hooks", "configure", world.reseller, "braintree", str(section))
    assert configured.exit_code == 0, configured.output
    shown = run(world, "hooks", "show", world.reseller, "--json")
    assert "top-secret-key" not in shown.output
    assert json.loads(shown.output)["braintree"]["private_key"] == "**********"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"merchant_id": "acme"}))
    refused = run(world, "hooks", "configure", world.reseller, "braintree", str(bad))
    assert refused.exit_code == 2 and "braintree.public_key" in refused.stderr

    braintree_api.vaulted.add(world.customer)
    paid = run(world, "pay", "topup", world.customer, "12.50", "--json")
    assert paid.exit_code == 0, paid.output
    assert json.loads(paid.output)["status"] == "completed"
    too_fine = run(world, "pay", "topup", world.customer, "12.505")
    assert too_fine.exit_code == 2 and "AMOUNT" in too_fine.stderr
