"""The objects an operation's path names, asked of the cluster (or the store), with PVE's texts.

An operation under an existing guest, node, storage, user or HA resource works for it; under a
missing one it fails as PVE's handler does before it gets to its own work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..handlers._ha import managed, parse_sid
from ..handlers._volumes import storage
from ..runtime import Mock
from .layout import Parent

Check = Callable[[Mock, Parent, Mapping[str, Any]], None]


def _node(mock: Mock, parent: Parent, params: Mapping[str, Any]) -> None:
    mock.node(str(params["node"]))  # pveproxy's proxy lookup (PVE's 'hostname lookup ... failed')


def _guest(mock: Mock, parent: Parent, params: Mapping[str, Any]) -> None:
    # pve-guest-common src/PVE/AbstractConfig.pm load_config: "Configuration file '<path>' does not exist"
    mock.guest(params["vmid"], str(params["node"]), parent.guest)


def _storage(mock: Mock, parent: Parent, params: Mapping[str, Any]) -> None:
    # pve-storage src/PVE/Storage.pm storage_config / storage_check_enabled
    storage(mock, str(params["storage"]), str(params["node"]))


def _user(mock: Mock, parent: Parent, params: Mapping[str, Any]) -> None:
    # pve-access-control src/PVE/AccessControl.pm check_user_exist: "no such user ('<id>')"
    mock.permissions.user_exists(str(params["userid"]))


def _ha_resource(mock: Mock, parent: Parent, params: Mapping[str, Any]) -> None:
    # pve-ha-manager src/PVE/API2/HA/Resources.pm:398-401 (migrate, relocate): parse_sid, then
    # src/PVE/HA/Config.pm:479-487 service_is_ha_managed
    managed(mock, parse_sid(mock, str(params["sid"]))[0])


CHECKS: Mapping[str, Check] = {
    "node": _node, "vmid": _guest, "storage": _storage, "userid": _user, "sid": _ha_resource,
}
