"""Perl ``decode_json`` (JSON::XS 4.04, ``utf8`` mode): the decoded structure or its croak text.

Used for ``pve-command-batch`` values and for the error path of JSON request bodies. Gives the
decoded structure (booleans as :class:`Bool`) or the croak text ``<error>, at character offset N
(before "<text>")``; the `` at FILE line N.`` suffix Perl adds depends on the caller, which adds it.
Checked against Debian's libjson-xs-perl 4.040 (the same code as PVE 9's) on mutated inputs.

One difference is kept on purpose: JSON::XS lets UTF-8 forms of surrogates and of code points past
U+10FFFF into its strings (and some invalid byte runs that start with 0xF5-0xFF); they are refused
here as malformed UTF-8, since no Python string or answer could carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_WS = " \t\n\r"
_MAX_DEPTH = 512
_MNEMONIC = {"\a": "\\a", "\b": "\\b", "\x1b": "\\e", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t"}
# the smallest code point of each UTF-8 length: a smaller one is an overlong form, which Perl refuses
_SHORTEST = (0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000, 0x80000000)
_WORDS = (("t", "true", True), ("f", "false", False), ("n", "null", None))
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Bool:
    """A decoded JSON ``true``/``false`` (Perl ``JSON::PP::Boolean``)."""

    value: bool


class JsonXsError(Exception):
    """Raised with JSON::XS's croak message (without Perl's location suffix)."""


class _Err(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _utf8_skip(first: int) -> int:
    """Perl's ``UTF8SKIP``: the length a start byte announces (1 for ASCII and stray continuations)."""
    if first < 0xC0:
        return 1
    for size, below in ((2, 0xE0), (3, 0xF0), (4, 0xF8), (5, 0xFC), (6, 0xFE), (7, 0xFF)):
        if first < below:
            return size
    return 13


def _perl_char(data: str, pos: int) -> tuple[int | None, int]:
    """The code point Perl reads at ``pos`` of a byte string (None if malformed) and ``UTF8SKIP``.

    Perl's extended UTF-8: surrogates and code points past U+10FFFF are well formed; overlong
    forms, cut-short sequences and the 13-byte 0xFF form are not."""
    first = ord(data[pos])
    size = _utf8_skip(first)
    if first < 0x80:
        return first, 1
    if size == 1 or size == 13:
        return None, size
    tail = data[pos + 1 : pos + size]
    if len(tail) < size - 1 or any(not 0x80 <= ord(c) <= 0xBF for c in tail):
        return None, size
    code = first & (0x7F >> size)
    for char in tail:
        code = code << 6 | (ord(char) & 0x3F)
    return (code if code >= _SHORTEST[size] else None), size


def _display(rest: str) -> str:
    """Perl ``pv_uni_display(..., 20, UNI_DISPLAY_QQ)`` of the unparsed bytes, read as UTF-8."""
    out = ""
    pos = 0
    while pos < len(rest):
        if len(out) >= 20:
            return out + "..."
        code, size = _perl_char(rest, pos)
        pos += size
        char = chr(code) if code is not None and code < 0x80 else ""
        if char in _MNEMONIC:
            out += _MNEMONIC[char]
        elif char == "\\":
            out += "\\\\"
        elif " " <= char <= "~":
            out += char
        else:
            out += f"\\x{{{0xFFFD if code is None else code:x}}}"
    return out


class _Decoder:
    def __init__(self, data: str) -> None:
        self.data = data
        self.pos = 0

    def peek(self) -> str:
        return self.data[self.pos] if self.pos < len(self.data) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] in _WS:
            self.pos += 1

    def scalar(self) -> Any:
        """``decode_sv`` for everything but arrays and objects."""
        char = self.peek()
        if char == '"':
            self.pos += 1
            return self.string()
        if char == "-" or (char.isdigit() and char.isascii()):
            return self.number()
        for initial, word, result in _WORDS:
            if char == initial:
                if not self.data.startswith(word, self.pos):
                    raise _Err(f"'{word}' expected", self.pos)
                self.pos += len(word)
                return None if result is None else Bool(result)
        if char == "(":  # a tag, which decode_json does not allow
            raise _Err("malformed JSON string, neither array, object, number, string or atom", self.pos)
        raise _Err("malformed JSON string, neither tag, array, object, number, string or atom", self.pos)

    def key(self) -> str:
        if self.peek() != '"':
            raise _Err("'\"' expected", self.pos)
        self.pos += 1
        name = self.string()
        self.skip_ws()
        if self.peek() != ":":
            raise _Err("':' expected", self.pos)
        self.pos += 1
        self.skip_ws()
        return name

    def value(self) -> Any:
        """``decode_sv``, with ``decode_av``/``decode_hv`` unrolled onto an explicit stack."""
        # each frame: the container and, for objects, the key awaiting its value
        stack: list[tuple[list[Any] | dict[str, Any], str]] = []
        while True:
            char = self.peek()
            if char in ("[", "{"):
                self.pos += 1
                if len(stack) >= _MAX_DEPTH:
                    raise _Err(
                        "json text or perl structure exceeds maximum nesting level (max_depth set too low?)",
                        self.pos,
                    )
                self.skip_ws()
                container: list[Any] | dict[str, Any] = [] if char == "[" else {}
                closer = "]" if char == "[" else "}"
                if self.peek() != closer:
                    stack.append((container, self.key() if char == "{" else ""))
                    continue
                self.pos += 1
                result: Any = container
            else:
                result = self.scalar()
            # attach the finished value to its parent, closing every container that ends here
            while True:
                if not stack:
                    return result
                parent, name = stack[-1]
                if isinstance(parent, list):
                    parent.append(result)
                else:
                    parent[name] = result
                self.skip_ws()
                closer = "]" if isinstance(parent, list) else "}"
                if self.peek() == closer:
                    self.pos += 1
                    stack.pop()
                    result = parent
                    continue
                if self.peek() != ",":
                    what = "array" if isinstance(parent, list) else "object/hash"
                    raise _Err(f", or {closer} expected while parsing {what}", self.pos)
                self.pos += 1
                self.skip_ws()
                if isinstance(parent, dict):
                    stack[-1] = (parent, self.key())
                break

    def string(self) -> str:
        out: list[str] = []
        while True:
            char = self.peek()
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char in ("", "\0"):  # JSON::XS reads a NUL byte as the end of its buffer
                raise _Err("unexpected end of string while parsing JSON string", self.pos)
            if char == "\\":
                esc = self.data[self.pos + 1 : self.pos + 2]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    self.pos += 2
                elif esc == "u":
                    out.append(self.unicode_escape())
                else:
                    raise _Err("illegal backslash escape sequence in string", self.pos)
            elif char < " ":
                raise _Err("invalid character encountered while parsing JSON string", self.pos)
            elif char >= "\x80":
                out.append(self.utf8_char())
            else:
                out.append(char)
                self.pos += 1

    def hex4(self, start: int) -> int:
        digits = self.data[start : start + 4]
        if len(digits) < 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise _Err("exactly four hexadecimal digits expected", start)
        return int(digits, 16)

    def unicode_escape(self) -> str:
        high = self.hex4(self.pos + 2)
        self.pos += 6
        if 0xD800 <= high < 0xDC00:
            if not self.data.startswith("\\u", self.pos):
                raise _Err("missing low surrogate character in surrogate pair", self.pos)
            low = self.hex4(self.pos + 2)
            if not 0xDC00 <= low < 0xE000:
                raise _Err("surrogate pair expected", self.pos + 6)
            self.pos += 6
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if 0xDC00 <= high < 0xE000:
            raise _Err("missing high surrogate character in surrogate pair", self.pos)
        return chr(high)

    def utf8_char(self) -> str:
        # The Perl string was downgraded to Latin-1 bytes; they must form UTF-8.
        code, size = _perl_char(self.data, self.pos)
        if code is None or code > 0x10FFFF or 0xD800 <= code < 0xE000:
            raise _Err("malformed UTF-8 character in JSON string", self.pos)
        self.pos += size
        return chr(code)

    def number(self) -> int | float | str:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        if self.peek() == "0":
            self.pos += 1
            if self.peek() and "0" <= self.peek() <= "9":
                raise _Err("malformed number (leading zero must not be followed by another digit)", self.pos)
        elif not self.digits():
            raise _Err("malformed number (no digits after initial minus)", self.pos)
        is_float = False
        if self.peek() == ".":
            self.pos += 1
            if not self.digits():
                raise _Err("malformed number (no digits after decimal point)", self.pos)
            is_float = True
        if self.peek() in ("e", "E"):
            self.pos += 1
            if self.peek() in ("+", "-"):
                self.pos += 1
            if not self.digits():
                raise _Err("malformed number (no digits after exp sign)", self.pos)
            is_float = True
        text = self.data[start : self.pos]
        if is_float:
            return float(text)
        # JSON::XS keeps an integer it cannot hold without loss as a string (and int() refuses 4300+ digits)
        return int(text) if len(text) <= 20 else text

    def digits(self) -> bool:
        start = self.pos
        while self.pos < len(self.data) and "0" <= self.data[self.pos] <= "9":
            self.pos += 1
        return self.pos > start


def decode_json(text: str) -> Any:
    """Decode like ``JSON::XS::decode_json`` on a Perl character string, or raise :class:`JsonXsError`."""
    if any(ord(c) > 0xFF for c in text):
        raise JsonXsError("Wide character in subroutine entry")
    decoder = _Decoder(text)
    try:
        decoder.skip_ws()
        result = decoder.value()
        decoder.skip_ws()
        if decoder.pos != len(text):
            raise _Err("garbage after JSON object", decoder.pos)
    except _Err as err:
        rest = text[err.pos :]
        before = _display(rest) if rest else "(end of string)"
        raise JsonXsError(f'{err.message}, at character offset {err.pos} (before "{before}")') from None
    return result
