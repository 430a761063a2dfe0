"""What never leaves the captured cluster, and the caller's own names if asked.

Secrets: PVE's API already keeps most to itself (storage and realm passwords, token secrets), but some
configuration values are credentials (a guest's cloud-init ``cipassword`` and ``sshkeys``, a metric
server's ``token``, a notification target's ``secret``...). Every option whose name says it holds one
is dropped from the configuration captured, at any depth; what the mock needs instead (token secrets,
passwords) is made fresh by the capture.

``--redact PATTERN``: every match of the caller's regular expressions, in any string of the seed
(values and keys, since ids key the store), is replaced by a made-up name, the same one each time it
occurs, so the seed still hangs together: a redacted node name is the same node everywhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

# option names that hold a credential, whatever the area (PVE's schema has no "secret" mark)
SECRET_NAME = re.compile(
    r"(password|passwd|passphrase|(^|[-_])pass$|secret|token|sshkeys?|private|credential|(^|[-_])psk$|keyring|"
    r"hmac|(^|[-_])(api)?keys?$)", re.IGNORECASE)
# options that hold credentials under a name that does not say so: an ACME DNS plugin's ``data`` is its
# provider's API credentials (pve-manager PVE/API2/ACMEPlugin.pm)
SECRET_OPTIONS_AT = {"/cluster/acme/plugins": frozenset({"data"})}


def is_secret_name(name: str) -> bool:
    return SECRET_NAME.search(name) is not None


def without_secrets(value: Any) -> Any:
    """``value`` with every mapping entry named like a credential left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not is_secret_name(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def items_without_secrets(place: str, items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A collection's items without their credentials, those named as such and those of ``place``."""
    extra = SECRET_OPTIONS_AT.get(place, frozenset())
    return {ident: {k: v for k, v in without_secrets(options).items() if k not in extra}
            for ident, options in items.items()}


class Redactor:
    """Consistent replacement of every match of ``patterns`` in a JSON value."""

    def __init__(self, patterns: Iterable[str]) -> None:
        try:
            self._patterns = [re.compile(p) for p in patterns]
        except re.error as err:
            raise ValueError(f"--redact: not a regular expression ({err})") from None
        self._names: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def _stand_in(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if not found:
            return found
        known = self._names.get(found)
        if known is None:
            n = len(self._names) + 1
            try:
                address = ipaddress.ip_address(found)
            except ValueError:
                address = None
            if address is None:
                known = f"redacted{n}"
            elif address.version == 4:  # RFC 2544's benchmarking range: never a real host
                known = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.18.0.0")) + n))
            else:  # RFC 3849's documentation prefix
                known = str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8::")) + n))
            self._names[found] = known
        return known

    def text(self, value: str) -> str:
        for pattern in self._patterns:
            value = pattern.sub(self._stand_in, value)
        return value

    def apply(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        return value

    @property
    def count(self) -> int:
        return len(self._names)
