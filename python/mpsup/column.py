"""The packed form of a chunk's items or results (chunk format 2).

A map chunk's items, and the results a worker sends back for a chunk of
format 2, cross as a JSON list, or, when they are all of one kind, as a
"packed column": a JSON string whose first character says the kind and
whose rest is base64 of the values in little-endian binary:

    i, q   signed integers of 4 and 8 bytes (type int, not bool)
    d      IEEE 754 doubles (type float, finite)

or, for the items of a map over a range, "r" and the slice of the range
the chunk covers in decimal, "rSTART:STOP:STEP" (at most RANGE_MAX
items: a short text must not stand for more work than a list could).

The values that come out are equal to those that went in and of the same
type, so the type rules of docs/python.md hold unchanged; the gain is that
neither side parses or writes a number's digits (pickle's speed, where
json spends most of a map's time on int text). Anything else (bools,
ints outside 64 bits, NaN, mixed types, strings) stays a JSON list.

Standard library only: the worker runner imports it as well.
"""
import array
import binascii
import math
import struct
import sys
from typing import Any, List, Optional, Sequence

__all__ = ["FORMAT", "RANGE_MAX", "pack", "pack_range", "unpack"]

# The chunk format this module writes and reads; see mpsup.codec.
FORMAT = 2
# A range column stands for at most this many items (a list of as many
# ints would be over the supervisor's default max_message of 16 MiB).
RANGE_MAX = 1 << 23

# Bytes per value of each kind: array's "i" (C int) and "q" (long long)
# have these sizes wherever CPython runs, "d" is a C double.
_SIZES = {"i": 4, "q": 8, "d": 8}
_SWAP = sys.byteorder != "little"
_INT = frozenset((int,))
_FLOAT = frozenset((float,))

try:        # 3.11 and up: refuse what is not base64 instead of skipping it
    binascii.a2b_base64(b"", strict_mode=True)

    def _b64decode(text: str) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)
except TypeError:
    _b64decode = binascii.a2b_base64


def pack(values: List[Any], kinds: Optional[frozenset] = None
         ) -> Optional[str]:
    """values as a packed column, or None when they are not all ints of
    64 bits or all finite floats (then they cross as a JSON list).
    kinds, when the caller knows it, is frozenset(map(type, values))."""
    if not values:
        return None
    if kinds is None:
        kinds = frozenset(map(type, values))
    if kinds == _INT:
        # 4 bytes each if they fit (struct says so, often at the first
        # value that does not), else 8.
        try:
            code, raw = "i", struct.pack("<%di" % len(values), *values)
        except struct.error:
            try:
                code, raw = "q", struct.pack("<%dq" % len(values), *values)
            except struct.error:
                return None
    elif kinds == _FLOAT:
        if not all(map(math.isfinite, values)):
            return None
        code, raw = "d", struct.pack("<%dd" % len(values), *values)
    else:
        return None
    return code + binascii.b2a_base64(raw, newline=False).decode("ascii")


def pack_range(items: range) -> Optional[str]:
    """A range as a column, or None when it is longer than RANGE_MAX;
    ValueError for ints too long to write as text (as json's)."""
    if len(items) > RANGE_MAX:
        return None
    return "r%d:%d:%d" % (items.start, items.stop, items.step)


def _range(text: str) -> range:
    try:
        start, stop, step = (int(x) for x in text[1:].split(":"))
        items = range(start, stop, step)
    except ValueError as e:     # int() of a bad text, a step of 0
        raise ValueError("a range column reads rSTART:STOP:STEP, not %r "
                         "(%s)" % (text[:80], e)) from None
    if len(items) > RANGE_MAX:
        raise ValueError("a range column holds at most %d items, not %d"
                         % (RANGE_MAX, len(items)))
    return items


def unpack(text: str, count: Optional[int] = None) -> Sequence[Any]:
    """The values of a column (a range for "r"); ValueError if text is
    not one, or (count given) does not hold count values."""
    code = text[:1]
    if code == "r":
        values = _range(text)       # type: Sequence[Any]
    elif code in _SIZES:
        try:
            raw = _b64decode(text[1:])
        except binascii.Error as e:
            raise ValueError("packed column: bad base64 (%s)" % e) from None
        size = _SIZES[code]
        if len(raw) % size:
            raise ValueError("packed column of kind %r: %d bytes is not a "
                             "whole number of values" % (code, len(raw)))
        packed = array.array(code)
        packed.frombytes(raw)
        if _SWAP:
            packed.byteswap()
        values = packed.tolist()
    else:
        raise ValueError("not a packed column: it starts with %r, not one "
                         "of r, %s" % (code, ", ".join(sorted(_SIZES))))
    if count is not None and len(values) != count:
        raise ValueError("packed column holds %d values, not %d"
                         % (len(values), count))
    return values
