"""What a fuzzed answer must satisfy, whatever the (schema-valid or not) request was.

The gateway answers like PVE, so a 500 is not a failure in itself: PVE answers 500 when a handler dies
(``... does not exist``, ``... already exists``, a wrong state), and the mock mimics it. A 500 with the
gateway's own "internal error" message is different: that is an exception nobody meant, a crash.
A 200 must carry ``data`` that fits the operation's ``returns``, judged with PVE's lenient typing
(``"5"`` is an integer, ``1`` a boolean) by the proxy's drift checker, since the OpenAPI document
describes PVE's lenient types and a strict JSON Schema check would report PVE's own wire habits.
"""

from __future__ import annotations

import json
from typing import Any

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.proxy.drift import check, returns_node
from pvegateway.openapi.document import HANDLER_STATUSES

INTERNAL_ERROR = "internal error - see the gateway's log"
# the statuses /openapi.json documents for every operation (401 is a failed login on open ones)
DOCUMENTED = frozenset({200, 400, 401, 403, 500, 501})
# operations that take a ticket of their own (a migration tunnel's, a VNC one) answer PVE::Ticket's 401 to
# a wrong one, whoever calls (pve-common src/PVE/Ticket.pm:106, qemu-server API2/Qemu.pm:7290)
_TICKETED = frozenset({"ticket", "vncticket"})


def _envelope(body: bytes) -> dict[str, Any] | None:
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def problems(operation: Operation, status: int, content_type: str, body: bytes) -> list[str]:
    """Why this answer is wrong for ``operation`` (empty when it is fine)."""
    if status not in DOCUMENTED and str(status) not in HANDLER_STATUSES.get(operation.key, {}):
        return [f"status {status} is not one the schema documents"]
    if status == 401 and not (operation.is_open or _TICKETED & set(operation.parameters.get("properties") or {})):
        return ["401 with root@pam's valid ticket"]
    json_answer = content_type.split(";", 1)[0].strip().lower() == "application/json"
    if status >= 500:
        decoded = _envelope(body) if json_answer else None
        message = decoded.get("message") if decoded is not None else None
        if not isinstance(message, str):
            return [f"{status} without PVE's JSON error envelope: {body[:120]!r}"]
        if INTERNAL_ERROR in message:
            return [f"{status} {message.strip()}: the gateway crashed (its log has the traceback)"]
        return []
    if status != 200 or not json_answer:
        return []  # 400/403 envelopes are the validator's and permission checks' own; downloads stream
    decoded = _envelope(body)
    if decoded is None or "data" not in decoded:
        return [f"200 without PVE's JSON envelope: {body[:120]!r}"]
    returns = returns_node(operation)
    drift = check(returns, decoded["data"]) if returns is not None else None
    return [f"returns mismatch: {text}" for text in drift.descriptions] if drift else []
