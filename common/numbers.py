"""Whole numbers typed by people (admin forms, search boxes, commands): ASCII digits only.

`str.isdigit()` is true for "²" and other Unicode digits that int() refuses (a 500), and a
30-digit id overflows PostgreSQL's bigint (another 500). `ascii_int` accepts 1-18 ASCII
digits, which always fit a bigint, and answers None for anything else.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}\Z")


def ascii_int(raw: str) -> int | None:
    return int(raw) if _DIGITS.match(raw) else None
