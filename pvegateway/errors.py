"""The one error type of the request path: status, message and PVE's per-parameter ``errors`` map."""

from __future__ import annotations

from collections.abc import Mapping

PARAM_FAILED = "Parameter verification failed.\n"


class PVEError(Exception):
    """An answer PVE would give as an error: rendered once, by the formatter of the request's format.

    ``plain`` marks errors that pve-http-server sends outside the formatter (``error()``): a plain-text
    body and no envelope, e.g. ``501 for data too large``. ``bare`` ones have no body at all (unknown
    HTTP verbs, authentication failures): only the status line speaks.
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, str] | None = None,
        *,
        plain: bool = False,
        bare: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors) if errors else None
        self.plain = plain or bare
        self.bare = bare
        self.headers = dict(headers) if headers else {}

    @classmethod
    def params(cls, errors: Mapping[str, str]) -> PVEError:
        """PVE's ``raise_param_exc``: 400 with the errors map."""
        return cls(400, PARAM_FAILED, errors)

    def __repr__(self) -> str:
        return f"PVEError({self.status}, {self.message!r}, {self.errors!r})"


class ClientGone(Exception):
    """The client went away before its request's body was whole, or while its answer was sent: nothing
    may run for such a request (pveproxy dispatches only once the whole Content-Length is in) and
    nobody is left to answer."""
