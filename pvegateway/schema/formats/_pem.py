"""pve-common ``PVE::Certificate::check_pem`` (formats ``pem-certificate``, ``pem-certificate-chain``,
``pem-string``).

The Perl pattern is applied as written, with two rewrites that keep its language but make
Python's backtracking engine linear: every run of Perl whitespace is shortened to at most three
characters (first, a ``"\\n"`` if the middle held one, last) -- every construct of the pattern
only asks whether a run is empty, whether it holds a newline and what its first and last
characters are -- and the blocks of a chain and the whitespace between them are atomic, which is
safe because a block of a fixed label can only end at its first ``-----END <label>-----`` and the
next block starts with a non-space.
"""

from __future__ import annotations

import re

from ._perl import LazyRe, S, lazy_re

_B64 = "[0-9A-Za-z+/]"
_RUN = lazy_re(f"{S}{{3,}}")
_LEADING = lazy_re(r"-----BEGIN .*?-----")


def _block(label: str) -> str:
    header = f"-----BEGIN {label}-----{S}*"
    body = f"(?:{_B64}++{S}*\\n)*{_B64}*+(?:={S}*\\n=|={{0,2}})?{S}*\\n"
    return f"{header}{body}-----END {label}-----"


# ``(?:BLOCK\s*\n+)*BLOCK\s*``: the separator is all the whitespace up to the next block,
# taken at once, and must end in a newline
_CHAIN = lazy_re(f"(?:(?>{_block('CERTIFICATE')})(?>{S}*)(?<=\\n))*(?>{_block('CERTIFICATE')}){S}*")
_ONE = lazy_re(f"{_block('CERTIFICATE')}{S}*")
_ANY = lazy_re(f"{_block('.*?')}{S}*")


def _shorten(run: re.Match[str]) -> str:
    text = run.group()
    return text[0] + ("\n" if "\n" in text[1:-1] else "") + text[-1]


def _check(content: str, pattern: LazyRe) -> bool:
    leading = _LEADING.search(content)
    if leading is not None:  # strip_leading_text
        content = content[leading.start() :]
    return pattern.fullmatch(_RUN.sub(_shorten, content)) is not None


def is_pem_certificate(content: str) -> bool:
    """``check_pem($content)``: a single ``CERTIFICATE`` block (Certificate.pm:16-23, 145-157)."""
    return _check(content, _ONE)


def is_pem_chain(content: str) -> bool:
    """``check_pem($content, multiple => 1)``: one or more ``CERTIFICATE`` blocks."""
    return _check(content, _CHAIN)


def is_pem_string(content: str) -> bool:
    """``check_pem($content, label => qr/.*?/)``: a single PEM block of any label."""
    return _check(content, _ANY)
