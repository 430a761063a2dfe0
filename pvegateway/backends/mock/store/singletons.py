"""Singletons: one set of options per place (datacenter.cfg, a node's DNS and time, a firewall's
options at every level). A write keeps what it sets and drops what it ``delete``s; a read shows what
was kept, and for what its ``returns`` requires but nobody set, the schema's ``default``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ..state import Cluster
from .act import MODIFIED, Act
from .defaults import SINGLETON_DEFAULTS
from .layout import place
from .values import deleted, kept, options_digest

# singletons the realistic handlers read: datacenter.cfg is the cluster's ``options`` (GET /cluster/options)
BOUND: Mapping[str, Callable[[Cluster], dict[str, Any]]] = {
    "/cluster/options": lambda cluster: cluster.options,
}


# pve-manager PVE/NodeConfig.pm:50-57: a node without a config file reads as {}, without a digest to compare
_NO_DIGEST_WHEN_EMPTY = frozenset({"/nodes/{node}/config"})
# pve-firewall src/PVE/API2/Firewall/VM.pm:139-143, Cluster.pm:144-148: a firewall refuses to delete an option
# it does not have; datacenter.cfg (pve-manager PVE/API2/Cluster.pm:855) and a node's config
# (PVE/API2/NodeConfig.pm:106-108) delete any name given
_REFUSES_UNKNOWN_DELETE = "/firewall/options"


def _options(act: Act, create: bool) -> dict[str, Any]:
    bound = BOUND.get(act.plan.where)
    if bound is not None:
        return bound(act.cluster)
    where = place(act.plan.where, act.params)
    kept_here = act.cluster.store.singletons.get(where)
    if kept_here is None:
        default = SINGLETON_DEFAULTS.get(act.plan.where)
        kept_here = default(act.cluster, act.params) if default is not None else {}
        if create:
            act.cluster.store.singletons[where] = kept_here
    return kept_here


def show(act: Act) -> dict[str, Any]:
    options = dict(_options(act, create=False))
    returned = act.op.returns.get("properties") or {}
    for key, schema in returned.items():
        if key not in options and isinstance(schema, Mapping) and schema.get("default") is not None \
                and not schema.get("optional"):
            options[key] = schema["default"]
    digest = _digest(act, _options(act, create=False))
    # pve-firewall answers a firewall's options with their digest whatever its schema says (Cluster.pm:106,
    # VM.pm:95, Host.pm:89, Vnet.pm:97 copy_opject_with_digest)
    if ("digest" in returned or act.plan.where.endswith("/firewall/options")) and digest is not None:
        options["digest"] = digest
    return options


def _digest(act: Act, options: Mapping[str, Any]) -> str | None:
    """The options' digest, or None where PVE reads none (an empty node config)."""
    if not options and act.plan.where in _NO_DIGEST_WHEN_EMPTY:
        return None
    return options_digest(options)


def set_options(act: Act) -> None:
    digest, expected = act.params.get("digest"), _digest(act, _options(act, create=False))
    if digest and expected is not None and digest != expected:
        raise PVEError(500, MODIFIED)
    props = act.op.parameters.get("properties") or {}
    removed = deleted(act.params)
    for key in removed:
        if key not in props and act.plan.where.endswith(_REFUSES_UNKNOWN_DELETE):
            raise PVEError.params({"delete": f"no such option '{key}'"})
    changes = kept(act.op, act.params)
    if act.plan.where == "/cluster/firewall/options" and int(changes.get("enable", 0)) > 1:
        changes["enable"] = act.mock.clock.now()  # Cluster.pm:152-154: the GUI's anti-lockout timestamp
    options = _options(act, create=True)
    for key in removed:
        options.pop(key, None)
    options.update(changes)
