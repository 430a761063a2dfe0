"""``Net::IP->new($data)`` and ``Net::IP::Error()`` (libnet-ip-perl 1.26), as pve-firewall uses them.

Only what decides acceptance and the error text is kept: ``ip_normalize`` (prefix, range,
``IP + number``, single address) and the checks of ``set``. Net::IP keeps its error in a global,
and some failures (an address with 8 or more colons) do not set it: Perl then reports the error of
an earlier, unrelated call in the same process. This port reports an empty error instead.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TypeGuard

from ..perl import truthy
from ._perl import NS, S, lazy_re, num, split

_SIZE = {4: 32, 6: 128}

_PREFIX_RE = lazy_re(rf"^({NS}+?)(/{NS}+)$")
_RANGE_RE = lazy_re(rf"^(.+?){S}*\-{S}*(.+)$")
_PLUS_RE = lazy_re(rf"^(.+?){S}+\+{S}+(.+)$")
_PREFIX_LEN_RE = lazy_re(r"^/(\d+)(,|$)")
_V4_CHARS_RE = lazy_re(r"^[\d\.]+$")
_V4_NUMBER_RE = lazy_re(r"^(\d+)$")
_V4_QUAD_RE = lazy_re(r"^\d{1,3}$")
_V6_PART_RE = lazy_re(r"^[a-f\d]{1,4}$", re.IGNORECASE)
_BIGINT_RADIX = (
    (re.compile(r"0[xX]([0-9a-fA-F][0-9a-fA-F_]*)", re.ASCII), 16),
    (re.compile(r"0[bB]([01][01_]*)", re.ASCII), 2),
    (re.compile(r"0[oO]([0-7][0-7_]*)", re.ASCII), 8),
)
_BIGINT_DEC = lazy_re(r"([0-9][0-9_]*)(?:\.([0-9_]*))?(?:[eE]([+-]?[0-9]+))?", re.ASCII)


def _bigint(text: str) -> int | None:
    """``Math::BigInt->new($text)`` for the non-negative forms; None for NaN."""
    text = text.strip(" \t\n\r\f\v")
    if text.startswith("+"):
        text = text[1:]
    for pattern, radix in _BIGINT_RADIX:
        found = pattern.fullmatch(text)
        if found:
            return int(str(found.group(1)).replace("_", ""), radix)
    found = _BIGINT_DEC.fullmatch(text)
    if not found:
        return None
    whole, frac, exp = found.group(1), found.group(2) or "", found.group(3) or "0"
    digits = int((whole + frac).replace("_", ""))
    shift = int(exp) - len(frac.replace("_", ""))
    if digits and shift > 400:
        return 1 << 200  # longer than any address: Net::IP then reports a length mismatch
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        return digits * factor
    divisor = factor
    return digits // divisor if digits % divisor == 0 else None


def _ok(text: str | None) -> TypeGuard[str]:
    """Perl's ``return unless ($x = ...)``: undef, "" and "0" count as failure."""
    return truthy(text)


def _hex_nibble(char: str) -> int:
    """A digit as Perl's ``pack 'H'`` reads it (letters are offset by 9, others masked)."""
    code = ord(char)
    return ((code + 9) if char.isalpha() else code) & 0xF


class NetIP:
    """One ``Net::IP->new`` call; ``error`` is what ``Net::IP::Error()`` returns afterwards."""

    def __init__(self) -> None:
        self.error = ""

    def _fail(self, message: str) -> None:
        self.error = message

    # --- version detection -------------------------------------------------------------------
    def is_ipv4(self, ip: str) -> bool:
        if not _V4_CHARS_RE.match(ip):
            self._fail(f"Invalid chars in IP {ip}")
            return False
        if ip.startswith("."):
            self._fail(f"Invalid IP {ip} - starts with a dot")
            return False
        if re.search(r"\.$", ip):
            self._fail(f"Invalid IP {ip} - ends with a dot")
            return False
        single = _V4_NUMBER_RE.match(ip)
        if single and num(single.group(1)) < 256:
            return True
        if ip.count(".") >= 4:
            self._fail(f"Invalid IP address {ip}")
            return False
        if ".." in ip:
            self._fail(f"Empty quad in IP address {ip}")
            return False
        for quad in split(ip, "."):
            if not 0 <= num(quad) < 256:
                self._fail(f"Invalid quad in IP address {ip} - {quad}")
                return False
        return True

    def is_ipv6(self, ip: str) -> bool:
        colons = ip.count(":")
        if not 0 < colons < 8:
            return False  # Net::IP sets no error here
        for index, part in enumerate(split(ip, ":"), start=1):
            if part == "" or _V6_PART_RE.match(part):
                continue
            if index == colons + 1 and self.is_ipv4(part):
                colons += 1  # an embedded IPv4 address counts as two groups
                continue
            self._fail(f"Invalid IP address {ip}")
            return False
        if re.match(r"^:[^:]", ip):
            self._fail(f"Invalid address {ip} (starts with :)")
            return False
        if re.search(r"[^:]:$", ip):
            self._fail(f"Invalid address {ip} (ends with :)")
            return False
        if len(re.findall(r":(?=:)", ip)) > 1:
            self._fail(f"Invalid address {ip} (More than one :: pattern)")
            return False
        if colons != 7 and "::" not in ip:
            self._fail(f"Invalid number of octets {ip}")
            return False
        return True

    def get_version(self, ip: str) -> int | None:
        if ":" not in ip and self.is_ipv4(ip):
            return 4
        if self.is_ipv6(ip):
            return 6
        return None

    # --- conversions -------------------------------------------------------------------------
    def expand(self, ip: str, version: int) -> str | None:
        if version == 4:
            quads = split(ip, ".")
            if len(quads) > 4:
                self._fail(f"Not a valid IPv address {ip}")
                return None
            clean = [0, 0, 0, 0]
            for quad in reversed(quads):
                if not _V4_QUAD_RE.match(quad):
                    self._fail(f"Not a valid IPv4 address {ip}")
                    return None
                clean.insert(0, int(num(quad)))
            return ".".join(str(q) for q in clean[:4])

        marked, doubles = re.subn("::", ":!:", ip)
        if doubles > 1:
            self._fail("Too many :: in ip")
            return None
        parts = split(marked, ":")
        count = len(parts)
        for i, part in enumerate(parts):
            if "." in part:
                embedded = self.expand(part, 4)
                if embedded is None:
                    # ip_iptobin/ip_bintoip then fail on the shifted arguments; substr() of the
                    # undefined result is an empty group.
                    self._fail("Invalid IP length for binary IP 6\n")
                    parts[i] = ""
                else:
                    parts[i] = self.bin_to_ip(self.ip_to_bin_v4(embedded), 6)[-9:]
                count += 1
                continue
            parts[i] = "0" * (4 - len(part)) + part
        for i, part in enumerate(parts):
            if part == "000!":
                parts[i] = ":".join(["0000"] * max(0, min(8, 9 - count)))
                break
        return ":".join(parts).lower()

    @staticmethod
    def ip_to_bin_v4(ip: str) -> str:
        quads = [int(num(q)) & 0xFF for q in split(ip, ".")[:4]]
        quads += [0] * (4 - len(quads))
        return "".join(f"{q:08b}" for q in quads)

    def ip_to_bin(self, ip: str, version: int) -> str | None:
        if version == 4:
            return self.ip_to_bin_v4(ip)
        digits = ip.replace(":", "")
        if len(digits) != 32:
            self._fail(f"Bad IP address {digits}")
            return None
        return "".join(f"{_hex_nibble(c):04b}" for c in digits)

    @staticmethod
    def bin_to_ip(bits: str, version: int) -> str:
        bits = bits.rjust(_SIZE[version], "0")
        if version == 4:
            return ".".join(str(int(bits[i : i + 8], 2)) for i in range(0, 32, 8))
        return ":".join(f"{int(bits[i : i + 16], 2):04x}" for i in range(0, 128, 16))

    # --- prefix handling ---------------------------------------------------------------------
    def check_prefix(self, bits: str, length: str, version: int) -> bool:
        value = num(length)
        if value > len(bits):
            self._fail(f"Prefix length {length} is longer than IP address ({len(bits)})")
            return False
        rest = bits[int(value) :]
        if not re.match(r"^0*$", rest):
            self._fail(f"Invalid prefix {bits}/{length}")
            return False
        if len(rest) + value != _SIZE[version]:
            self._fail(f"Invalid prefix length /{length}")
            return False
        return True

    def _bin_add(self, left: str, right: str) -> str | None:
        if len(left) != len(right):
            self._fail("IP addresses of different length\n")
            return None
        total = (int(left, 2) + int(right, 2)) % (1 << len(left))
        return format(total, f"0{len(left)}b")

    # --- ip_normalize + set ------------------------------------------------------------------
    def _address_bits(self, ip: str) -> tuple[int, str, str] | None:
        """``ip_get_version``, ``ip_expand_address`` and ``ip_iptobin`` in a row: (version, expanded, bits)."""
        version = self.get_version(ip)
        expanded = self.expand(ip, version) if version else None
        if not version or not _ok(expanded):
            return None
        bits = self.ip_to_bin(expanded, version)
        return None if bits is None else (version, expanded, bits)

    def _normalize(self, data: str) -> tuple[str, str | None] | None:
        # each branch assigns these, some from Net::IP steps that may fail (None)
        version: int | None
        begin: str | None
        expanded: str | None
        prefix = _PREFIX_RE.match(data)
        if prefix:
            ip, rest = prefix.groups()
            parsed = self._address_bits(ip)
            if parsed is None:
                return None
            version, expanded, bits = parsed
            one = "0" * (_SIZE[version] - 1) + "1"
            while truthy(rest):
                step = _PREFIX_LEN_RE.match(rest)
                if not step:
                    break
                rest = rest[step.end() :]
                length = step.group(1)
                if not self.check_prefix(bits, length, version):
                    return None
                keep = bits[: int(num(length))]
                bits = keep + "1" * (_SIZE[version] - len(keep))
                if step.group(2):
                    added = self._bin_add(bits, one)
                    if added is None:
                        return None
                    bits = added
            return expanded, self.bin_to_ip(bits, version)

        ranged = _RANGE_RE.match(data)
        if ranged:
            first, last = ranged.groups()
            version = self.get_version(first)
            if version is None:
                return None
            begin = self.expand(first, version)
            end = self.expand(last, version) if _ok(begin) else None
            return (begin, end) if _ok(begin) and _ok(end) else None

        plus = _PLUS_RE.match(data)
        if plus:
            first, amount = plus.groups()
            parsed = self._address_bits(first)
            if parsed is None:
                return None
            version, begin, bits = parsed
            number = _bigint(amount)
            if number is None:  # NaN: its "NaN" bit string adds nothing
                return begin, self.bin_to_ip(bits, version)
            add = format(number, "b")
            summed = self._bin_add(bits, "0" * (_SIZE[version] - len(add)) + add)
            return None if summed is None else (begin, self.bin_to_ip(summed, version))

        version = self.get_version(data)
        expanded = self.expand(data, version) if version else None
        return (expanded, None) if _ok(expanded) else None

    def new(self, data: str) -> tuple[int, str] | None:
        """``Net::IP->new($data)``: (version, expanded first address), or None with ``error`` set."""
        normalized = self._normalize(data)
        if normalized is None:
            return None
        begin, end = normalized
        version = self.get_version(begin)
        begin_bits = self.ip_to_bin(begin, version) if version else None
        if version is None or begin_bits is None:
            return None
        if not truthy(end):
            end = begin
        assert end is not None  # nosec B101 # narrowing: truthy(end) or end = begin just above
        end_version = self.get_version(end)
        if end_version is None:
            return None
        if end_version != version:
            self._fail(f"Begin and End addresses have different IP versions - {begin} - {end}")
            return None
        end_bits = self.ip_to_bin(end, version)
        if end_bits is None:
            return None
        if begin_bits > end_bits:  # equal-length bit strings compare like the numbers
            self._fail(f"Begin address is greater than End address {begin} - {end}")
            return None
        return version, begin


_PLAIN_V4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}")
_PLAIN_V6 = re.compile(r"[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){7}|(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?::"
                       r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?")
_PLAIN_PREFIX = re.compile(r"(.+)/(0|[1-9][0-9]{0,2})")
_PLAIN_RANGE = re.compile(r"([0-9a-fA-F.:]+)-([0-9a-fA-F.:]+)")


@lru_cache(maxsize=4096)
def net_ip_new(data: str) -> tuple[tuple[int, str] | None, str]:
    """Run ``Net::IP->new($data)``; returns (result or None, ``Net::IP::Error()``).

    Plain addresses and networks, what address lists are made of, take a short way to the same
    answer: the full :class:`NetIP` model is slow per value, and a list under the body limit holds
    tens of thousands of them (tests/hostile/test_event_loop.py sends such a list). Results are kept
    per value for the same reason.
    """
    plain = _plain_answer(data)
    if plain is not None:
        return plain, ""
    parser = NetIP()
    return parser.new(data), parser.error


def _plain_answer(data: str) -> tuple[int, str] | None:
    """Net::IP's result for a plain address, network or range it accepts; None leaves it to NetIP."""
    prefix = _PLAIN_PREFIX.fullmatch(data)
    if prefix is not None:
        return _plain_network(*prefix.groups())
    ranged = _PLAIN_RANGE.fullmatch(data)
    if ranged is not None:
        return _plain_range(*ranged.groups())
    return _plain_address(data)


def _plain_network(address: str, length: str) -> tuple[int, str] | None:
    """``Net::IP->new("ADDRESS/LENGTH")`` of a plain address whose host bits are clear, else None."""
    plain = _plain_address(address)
    if plain is None:
        return None
    size = _SIZE[plain[0]]
    bits = int(length)
    return plain if bits <= size and _number(plain) & ((1 << (size - bits)) - 1) == 0 else None


def _plain_range(first: str, last: str) -> tuple[int, str] | None:
    """``Net::IP->new("FIRST-LAST")`` of two plain addresses of one version in order, else None."""
    begin, end = _plain_address(first), _plain_address(last)
    if begin is None or end is None or begin[0] != end[0] or _number(begin) > _number(end):
        return None
    return begin


def _number(address: tuple[int, str]) -> int:
    version, expanded = address
    if version == 6:
        return int(expanded.replace(":", ""), 16)
    return int.from_bytes(bytes(int(q) for q in expanded.split(".")), "big")


def _plain_address(data: str) -> tuple[int, str] | None:
    """``Net::IP->new`` of 1-4 decimal quads or of hex groups (one ``::`` at most), else None (undecided)."""
    if _PLAIN_V4.fullmatch(data) is not None:
        # missing quads are zeros at the end ("10.1" is 10.1.0.0), as Net::IP expands them
        values = [int(q) for q in data.split(".")]
        return (4, ".".join(map(str, [*values, 0, 0, 0][:4]))) if max(values) < 256 else None
    if _PLAIN_V6.fullmatch(data) is None or data.count(":") > 7 or data.count("::") > 1:
        return None
    head, double, tail = data.partition("::")
    left = head.split(":") if head else []
    right = tail.split(":") if tail else []
    missing = 8 - len(left) - len(right)
    if (double and missing < 1) or (not double and missing != 0):
        return None
    words = [*left, *(["0"] * missing), *right]
    return 6, ":".join(w.lower().rjust(4, "0") for w in words)
