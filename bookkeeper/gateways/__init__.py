"""Money coming in: payment gateways (Braintree, PayPal IPN, YooMoney, Stripe), top-ups, and the hooks web app.

`base` is the gateway interface (verified notice -> keyed ledger credit or reversal), `config` the per-reseller
gateway configuration, one module per gateway, `topup` manual and automatic card top-ups, `kazoo_sync` KAZOO
4.2's HTTP bookkeeper protocol, `web` the Flask app, `server` the HTTP server it runs on.
"""

from .topup import TopupResult, maybe_auto_topup, topup
from .web import HookServer, make_app, serve

__all__ = ["HookServer", "TopupResult", "make_app", "maybe_auto_topup", "serve", "topup"]
