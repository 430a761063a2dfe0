"""Every private uvicorn (and h11) name the gateway's coupling relies on still exists, with the parameters
it expects: an upgrade that drops or reshapes one fails here, naming it, instead of as a server that
quietly stops writing PVE's reason phrases, enforcing the head limits or draining on SIGTERM."""

from __future__ import annotations

import inspect
import re
from types import ModuleType

import pytest
import uvicorn

from pvegateway.http import _uvicorn
from pvegateway.http._uvicorn import HOOKS, Hook


def _assigned(owner: type, name: str) -> bool:
    """Some method of ``owner`` (or of a base from the same package) assigns ``self.<name>``."""
    package = owner.__module__.split(".")[0]
    assignment = re.compile(rf"\bself\.{re.escape(name)}\s*(?::[^=\n]+)?=(?!=)")
    return any(assignment.search(inspect.getsource(base)) for base in owner.__mro__
               if base.__module__.split(".")[0] == package)


def problem(hook: Hook) -> str | None:
    """What is wrong with ``hook`` in the installed version, or None."""
    owner = hook.owner
    where = owner.__name__ if isinstance(owner, ModuleType) else f"{owner.__module__}.{owner.__qualname__}"
    if isinstance(owner, ModuleType):
        return None if hasattr(owner, hook.name) else f"{where}.{hook.name} is gone"
    if hook.params is None:
        found = hasattr(owner, hook.name) or _assigned(owner, hook.name)
        return None if found else f"{where} no longer has the attribute {hook.name!r}"
    definer = next((base for base in owner.__mro__ if hook.name in vars(base)), None)
    package = owner.__module__.split(".")[0]
    if definer is None or definer.__module__.split(".")[0] != package:
        return f"{where}.{hook.name} is gone (nothing of {package}'s own defines it)"
    method = getattr(owner, hook.name)
    if not callable(method):
        return f"{where}.{hook.name} is no longer callable"
    params = tuple(inspect.signature(method).parameters)[1:]  # after self
    if params != hook.params:
        return f"{where}.{hook.name} takes {params} now; the coupling expects {hook.params}"
    return None


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: f"{hook.label}")
def test_every_private_hook_of_the_coupling_is_still_there(hook: Hook) -> None:
    found = problem(hook)
    assert found is None, (
        f"uvicorn {uvicorn.__version__}: {found}. pvegateway/http/_uvicorn.py overrides, calls or reads it "
        f"(its docstring says why); adapt the coupling to this version, or keep uvicorn at the version "
        f"pyproject.toml pins.")


def test_the_coupling_documents_every_hook_it_lists() -> None:
    doc = _uvicorn.__doc__ or ""
    assert [hook.label for hook in HOOKS if f"``{hook.label}``" not in doc] == []


class _Base:
    size = 1

    def __init__(self) -> None:
        self.kept = 0

    def handler(self, data: bytes) -> None: ...


class _Changed(_Base):
    def handler(self, data: bytes, more: bool = False) -> None: ...


@pytest.mark.parametrize(("hook", "expected"), [
    (Hook(_Base, "handler", ("data",)), None),
    (Hook(_Base, "kept"), None),
    (Hook(_Base, "size"), None),
    (Hook(_Base, "gone", ("data",)), "is gone"),
    (Hook(_Base, "gone"), "no longer has the attribute 'gone'"),
    (Hook(_Changed, "handler", ("data",)), "takes ('data', 'more') now; the coupling expects ('data',)"),
    (Hook(_Base, "size", ()), "no longer callable"),
    (Hook(_Base, "__repr__", ()), "is gone (nothing of tests's own defines it)"),  # object's, not the owner's
    (Hook(re, "compile"), None),
    (Hook(re, "gone"), "re.gone is gone"),
], ids=["same", "instance-attribute", "class-attribute", "method-gone", "attribute-gone", "new-parameter",
        "not-callable", "inherited-from-elsewhere", "module-name", "module-name-gone"])
def test_the_check_tells_a_missing_or_reshaped_hook(hook: Hook, expected: str | None) -> None:
    """The check above can fail: on stand-ins for a uvicorn class, it names what went and how."""
    found = problem(hook)
    assert found == expected if expected is None else (found is not None and expected in found)
