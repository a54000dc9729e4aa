"""The one rule that turns a label value read from a CSV cell or a JSON value into a class name.

Training, ``evaluate`` and (through the fitted model's ``classes_``) the API and the
batch function all see labels only through :func:`normalise_label`, so a label is
spelled the same everywhere:

- in strings, invisible characters are removed (Unicode categories ``Cf``, format: zero-width
  spaces and joiners, BOM, bidi marks, soft hyphens; and ``Cc``, control characters other
  than whitespace), runs of whitespace become one
  space, the ends are stripped, and the result is put in Unicode NFC form;
- a decimal number is written in its shortest form: JSON ``1``, ``1.0`` and the strings
  ``"1"``, ``"1.0"``, ``"1.00"`` are all the class ``1``; ``2.50`` is ``2.5``. Strings
  without a decimal point are kept as written, so codes such as ``007`` stay as they are;
- a missing label is JSON ``null``, ``NaN`` (not JSON, but some writers emit it), a string
  that is empty after the clean-up, or the string ``nan`` in any case (what ``str()`` of a
  missing float value gives, e.g. pandas' ``astype(str)``): the row is dropped and reported;
- JSON booleans, arrays, objects and infinite numbers are not labels: the row is refused
  and reported with its line number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

# a decimal number with a point: "1.0", "-2.50", "+3.", ".5" is not (kept as written)
# (ASCII digits only: "٣.٠" is kept as written, like "٣", not rewritten as "3")
_DECIMAL = re.compile(r"[+-]?[0-9]+\.[0-9]*")


# Unicode categories removed from labels: format (Cf) and control (Cc) characters
INVISIBLE = frozenset({"Cf", "Cc"})


class LabelError(ValueError):
    """A value that cannot be a label; the message says what it is (never the user's text)."""


def json_kind(value: object) -> str:
    """How JSON calls the type of ``value`` ("array", "object", "boolean", ...)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


def canonical_number(value: Decimal) -> str:
    """``value`` in its shortest plain form: ``1.0`` -> ``1``, ``2.50`` -> ``2.5``, ``-0`` -> ``0``.

    Exact for any number of digits (no rounding to the decimal context's precision, no
    integer conversion): ``1000000000000000000000000000000.5`` stays itself.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "+0") else text.removeprefix("+")


def clean_label_text(text: str) -> str:
    """NFC, format characters removed, whitespace runs collapsed, ends stripped; decimals shortened."""
    # invisible characters go first: one between a letter and its accent would block composition
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in INVISIBLE)
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    if _DECIMAL.fullmatch(text):
        try:
            return canonical_number(Decimal(text))
        except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
            return text
    return text


def normalise_label(value: object) -> str | None:
    """The class name of a label value (``None``: missing), or :class:`LabelError`.

    ``value`` is a CSV cell (``str``) or a decoded JSON value (``str``, ``int``,
    ``float`` including NaN and infinities, ``bool``, ``None``, ``list``, ``dict``).
    """
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, list | dict):
        raise LabelError(f"label is a JSON {json_kind(value)}, not a string or an integer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise LabelError("label is an infinite number")
        return canonical_number(Decimal(repr(value)))
    if isinstance(value, str):
        text = clean_label_text(value)
        return None if not text or text.lower() == "nan" else text
    raise LabelError(f"label is a {type(value).__name__}, not a string or an integer")
