"""What a gateway-key holder may not do as the service account: make credentials for it that would
outlive the key.

Key holders act as the service account, and PVE lets every user manage its own credentials: create,
regenerate and update its API tokens (pve-access-control ``src/PVE/API2/User.pm``: ``generate_token``
752 and ``update_token_info`` 833 check ``userid-param self``), its second factors
(``src/PVE/API2/TFA.pm`` ``add_tfa_entry`` 314), its password (``change_password`` in
``src/PVE/API2/AccessControl.pm`` 404). A token or password minted that way works against the nodes
directly: past the gateway's validation, keys and limits, and after the key is revoked. So the
gateway refuses key holders every write to the service account itself (its user entry, tokens and
TFA), a password change for it, and a login as it; reads stay allowed. Callers with their own PVE
credentials are not concerned: the node judges them.

User ids are compared without regard to case: PVE realms may be case-insensitive
(``lookup_username``, ``src/PVE/AccessControl.pm`` 1240).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...apidoc.operation import Operation
from ...errors import PVEError
from ...ratelimit.login import login_userid

# writes under these templates change the user named by their {userid}
_ACCOUNT_PREFIXES = ("/access/users/{userid}", "/access/tfa/{userid}")


def _names(params: Mapping[str, Any], operation: Operation) -> str | None:
    """The user ``operation`` would change or log in as, or None when it changes no user's credentials."""
    method, path = operation.method, operation.path
    if method == "GET":
        return None
    if path.startswith(_ACCOUNT_PREFIXES) or (method, path) == ("PUT", "/access/password"):
        return str(params.get("userid", ""))
    if (method, path) == ("POST", "/access/ticket"):
        return login_userid(params)
    return None


def refuse_service_credentials(operation: Operation, params: Mapping[str, Any], service_user: str) -> None:
    """PVE's 403 when a key holder's call would change the service account or log in as it."""
    named = _names(params, operation)
    if named is not None and named.lower() == service_user.lower():
        raise PVEError(403, f"Permission check failed (gateway API keys cannot change, or log in as, the "
                            f"gateway's service account {service_user})\n")
