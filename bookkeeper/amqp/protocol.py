"""KAZOO 4.3's bookkeeper API on AMQP (`kapi_bookkeepers`): exchanges, routing keys, fields, replies. Pure.

KAZOO publishes `<kind>_req` on the topic exchange `bookkeepers` under `bookkeepers.<kind>.request` with its
reply queue in `Server-ID`; a bookkeeper answers only requests whose `Bookkeeper-Type` is its own, with
`<kind>_resp` on the direct exchange `targeted` under that `Server-ID`, the request's `Msg-ID` and the default
headers every KAZOO message carries (`kz_api:default_headers/2`: App-Name, App-Version, Node; the definition's
Event-Category and Event-Name). Both exchanges are declared as KAZOO declares them (not durable, not
auto-deleted). Amounts on the wire are KAZOO units (1 currency unit = 10,000), integers.

A `Server-ID` may also be KAZOO's process form `pid://<erlang pid>/<queue>` (`kapi:encode_pid/2`): KAZOO's
`kz_amqp_util:basic_publish` sends such a message to `<queue>` (everything after the last `/`) with the header
`Deliver-To-PID: <erlang pid>` (binary), and the listener on that queue hands it to that process
(`gen_listener:distribute_event`). A `pid://` form without a pid or a queue has no such reading (KAZOO's own publish
would crash on it): the request is refused as unaddressable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal

from ..errors import InputError
from ..jsontext import loads

EXCHANGE, EXCHANGE_TYPE = "bookkeepers", "topic"
TARGETED, TARGETED_TYPE = "targeted", "direct"
CATEGORY = "bookkeepers"
KINDS = ("update", "standing", "sale", "refund", "collect_recurring")
DEFAULT_HEADERS = ("Msg-ID", "Event-Category", "Event-Name", "App-Name", "App-Version", "Node")

REQUIRED = {
    "update": ("Account-ID", "Bookkeeper-ID", "Bookkeeper-Type", "Invoice", "Vendor-ID"),
    "standing": ("Account-ID", "Bookkeeper-ID", "Bookkeeper-Type", "Vendor-ID", "Items", "Estimated-Withdrawal"),
    "sale": ("Bookkeeper-Type", "Vendor-ID", "Account-ID", "Transaction-ID", "Transaction-DB", "Amount"),
    "refund": ("Bookkeeper-Type", "Vendor-ID", "Account-ID", "Transaction-ID", "Transaction-DB", "Amount"),
    "collect_recurring": ("Account-ID", "Bookkeeper-ID", "Bookkeeper-Type", "Due-Timestamp", "Vendor-ID"),
}
RESPONSE_REQUIRED = {
    "update": ("Status",),
    "standing": ("Status",),
    "sale": ("Status", "Transaction-ID", "Transaction-DB"),
    "refund": ("Status", "Transaction-ID", "Transaction-DB"),
    "collect_recurring": ("Account-ID", "Bookkeeper-ID", "Bookkeeper-Type", "Status"),
}
RESPONSE_OPTIONAL = {
    "update": ("Message", "Reason", "Details"),
    "standing": ("Message", "Reason", "Details"),
    "sale": ("Message", "Reason", "Details"),
    "refund": ("Message", "Reason", "Details"),
    "collect_recurring": ("Details", "Message", "Reason", "Transaction-ID", "Transaction-DB"),
}
INTEGER_FIELDS = ("Estimated-Withdrawal", "Amount", "Due-Timestamp")
PID_PREFIX, DELIVER_TO_PID = "pid://", "Deliver-To-PID"
_PID_FORM = re.compile(r"pid://(.*)/(.*)")  # as kz_amqp_util matches it: the queue follows the last slash


def routing_key(kind: str, direction: str = "request") -> str:
    return f"{CATEGORY}.{kind}.{direction}"


def kind_of(routing: str) -> str | None:
    """The request kind a routing key names (`bookkeepers.sale.request` -> sale), else None."""
    parts = routing.split(".")
    if len(parts) == 3 and parts[0] == CATEGORY and parts[2] == "request" and parts[1] in KINDS:
        return parts[1]
    return None


@dataclass(frozen=True)
class Request:
    """One validated request: its kind and its fields as KAZOO sent them (non-integer numbers as Decimal)."""

    kind: str
    fields: dict

    def __getitem__(self, name: str):
        return self.fields[name]

    def get(self, name: str, default=None):
        return self.fields.get(name, default)

    @property
    def msg_id(self) -> str:
        return self.fields["Msg-ID"]

    @property
    def server_id(self) -> str:
        return self.fields["Server-ID"]

    @property
    def reply_to(self) -> tuple[str, dict[str, bytes] | None]:
        """The routing key on `targeted` and the headers the reply is published with (`reply_address`)."""
        return reply_address(self.server_id)


def reply_address(server_id: str) -> tuple[str, dict[str, bytes] | None]:
    """Where KAZOO's publish sends a message for `server_id`: a queue name as it is, no headers; KAZOO's
    `pid://<pid>/<queue>` to `<queue>` with `Deliver-To-PID: <pid>`. ValueError for a `pid://` form without both."""
    if not server_id.startswith(PID_PREFIX):
        return server_id, None
    found = _PID_FORM.match(server_id)
    if found is None or not found[1] or not found[2]:
        raise ValueError(f"{server_id!r} is not pid://<pid>/<queue>")
    return found[2], {DELIVER_TO_PID: found[1].encode("utf-8")}


def parse(routing: str, body: bytes) -> Request:
    """A request from its routing key and body; InputError naming the field when KAZOO's validation would fail
    (`<kind>_req_v`: required fields, Event-Category/Event-Name) or a reply could not be addressed."""
    kind = kind_of(routing)
    if kind is None:
        raise InputError("amqp", "routing_key", f"not a bookkeeper request: {routing!r}")
    where = f"{kind}_req"
    try:
        fields = loads(body.decode("utf-8"), where)
    except UnicodeDecodeError:
        raise InputError(where, None, "body is not UTF-8") from None
    if not isinstance(fields, dict):
        raise InputError(where, None, "body is not a JSON object")
    for name in (*REQUIRED[kind], "Msg-ID", "Server-ID"):
        if fields.get(name) in (None, ""):
            raise InputError(where, name, "missing")
    for name, wanted in (("Event-Category", CATEGORY), ("Event-Name", f"{kind}_req")):
        if fields.get(name, wanted) != wanted:
            raise InputError(where, name, f"must be {wanted!r}, got {fields[name]!r}")
    if not isinstance(fields["Server-ID"], str):
        raise InputError(where, "Server-ID", f"must be a string, got {fields['Server-ID']!r}")
    try:
        reply_address(fields["Server-ID"])
    except ValueError as exc:
        raise InputError(where, "Server-ID", f"no reply can be addressed: {exc}") from None
    for name in INTEGER_FIELDS:
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(where, name, f"must be an integer (KAZOO units or seconds), got {value!r}")
    return Request(kind, fields)


def reply(request: Request, answer: dict, *, app_name: str, app_version: str, node: str) -> dict:
    """The `<kind>_resp` message for `request`: the answer's fields (empty ones dropped, as
    `kz_api:prepare_api_payload` drops them) with the default headers and the request's Msg-ID."""
    message = {k: v for k, v in answer.items() if v not in (None, "")}
    message.update(
        {
            "Msg-ID": request.msg_id,
            "Event-Category": CATEGORY,
            "Event-Name": f"{request.kind}_resp",
            "App-Name": app_name,
            "App-Version": app_version,
            "Node": node,
        }
    )
    missing = [name for name in RESPONSE_REQUIRED[request.kind] if name not in message]
    if missing:
        raise ValueError(f"{request.kind}_resp without {', '.join(missing)}")
    return message


def encode(message: dict) -> bytes:
    """JSON as KAZOO's encoder writes it: compact, UTF-8, Decimals as numbers (KAZOO's dollars are floats)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_number).encode("utf-8")


def _number(value):
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # 'n', 'N', 'F' for NaN and infinities
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
