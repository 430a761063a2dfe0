"""pve-access-control code formats answer like PVE."""

from __future__ import annotations

from pvegateway.schema.formats.access import FORMATS, PRIVILEGES
from tests.schema.format_cases import errors_of, value_tests

error_of = errors_of(FORMATS)


VALID = [
    ("pve-userid", "root@pam"),
    ("pve-userid", "json@pve"),
    ("pve-userid", "first.last@corp-ad"),
    ("pve-userid", "a@b@pve"),
    ("pve-realm", "pve"),
    ("pve-realm", "corp.ad-1_x"),
    ("pve-tokenid", "root@pam!automation"),
    ("pve-tokenid", "jdoe@pve!t-1"),
    ("pve-groupid", "ops"),
    ("pve-groupid", "team.a-1_b"),
    ("pve-roleid", "PVEVMAdmin"),
    ("pve-poolid", "lab"),
    ("pve-poolid", "lab/dev/web"),
    ("pve-priv", "VM.Audit"),
    ("pve-priv", "VM.GuestAgent.Unrestricted"),
    ("pve-priv", "Permissions.Modify"),
    ("pve-priv", "Sys.AccessNetwork"),
]

INVALID = [
    # from the golden corpus
    ("pve-priv", "vm.audit", "invalid privilege 'vm.audit'\n"),
    ("pve-priv", "VM.Foo", "invalid privilege 'VM.Foo'\n"),
    ("pve-priv", "Sys.Audit2", "invalid privilege 'Sys.Audit2'\n"),
    ("pve-roleid", "Op!", "role name 'Op!' contains invalid characters\n"),
    ("pve-roleid", "PVE/Admin", "role name 'PVE/Admin' contains invalid characters\n"),
    ("pve-groupid", "dev@ops", "group name 'dev@ops' contains invalid characters\n"),
    ("pve-groupid", "#wheel", "group name '#wheel' contains invalid characters\n"),
    ("pve-groupid", "team@42", "group name 'team@42' contains invalid characters\n"),
    ("pve-groupid", "a%b", "group name 'a%b' contains invalid characters\n"),
    ("pve-realm", "corp@ad", "value does not look like a valid realm\n"),
    ("pve-realm", "my realm", "value does not look like a valid realm\n"),
    ("pve-userid", "jdoe@-pve", "value 'jdoe@-pve' does not look like a valid user name\n"),
    ("pve-userid", "jdoe", "value 'jdoe' does not look like a valid user name\n"),
    ("pve-poolid", "lab$", "pool name 'lab$' contains invalid characters\n"),
    ("pve-poolid", "/lab", "pool name '/lab' contains invalid characters\n"),
    # further texts from the sources
    ("pve-userid", "0", "user name '' is too short\n"),  # $username = '' if !$username
    ("pve-userid", "", "user name '' is too short\n"),
    ("pve-userid", "ab", "user name 'ab' is too short\n"),
    ("pve-userid", "u" * 61 + "@pve", f"user name '{'u' * 61}@pve' is too long (65 > 64)\n"),
    ("pve-userid", "a b@pve", "value 'a b@pve' does not look like a valid user name\n"),
    ("pve-userid", "a/b@pve", "value 'a/b@pve' does not look like a valid user name\n"),
    ("pve-userid", "a\u2003b@pve", "value 'a\u2003b@pve' does not look like a valid user name\n"),
    ("pve-userid", "root@pam\n", "value 'root@pam\n' does not look like a valid user name\n"),
    ("pve-realm", "p", "value does not look like a valid realm\n"),
    ("pve-tokenid", "root@pam", "value 'root@pam' does not look like a valid token ID\n"),
    ("pve-tokenid", "root@pam!1tok", "value 'root@pam!1tok' does not look like a valid token ID\n"),
    ("pve-poolid", "a/b/c/d", "pool name 'a/b/c/d' nested too deeply (max levels = 3)\n"),
    ("pve-poolid", "/a/b/c", "pool name '/a/b/c' nested too deeply (max levels = 3)\n"),
    ("pve-poolid", "a//b//c", "pool name 'a//b//c' nested too deeply (max levels = 3)\n"),
    ("pve-poolid", "a/b/c/", "pool name 'a/b/c/' contains invalid characters\n"),
    ("pve-poolid", "", "pool name '' contains invalid characters\n"),
    ("pve-priv", "VM.Monitor", "invalid privilege 'VM.Monitor'\n"),  # removed in PVE 9
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)


def test_a_64_character_userid_is_long_enough() -> None:
    assert error_of("pve-userid", "u" * 60 + "@pve") is None


def test_privilege_list_is_pve9() -> None:
    assert len(PRIVILEGES) == 47
    assert {"VM.Replicate", "Mapping.Use", "SDN.Use", "VM.GuestAgent.FileSystemMgmt"} <= PRIVILEGES


def test_registered_names() -> None:
    assert set(FORMATS) == {
        "pve-userid", "pve-realm", "pve-tokenid", "pve-groupid", "pve-roleid", "pve-poolid", "pve-priv",
    }  # fmt: skip
