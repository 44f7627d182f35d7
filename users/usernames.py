"""Usernames: NFKC-normalised, and refused when they look like someone else's.

- `username_normalize`: Unicode NFKC (fullwidth `ａｌｉｃｅ` is `alice`, ligatures and
  compatibility forms fold), applied at registration and at login alike.
- `username_skeleton`: what a name looks like, for comparison only (never shown): every
  character that Unicode's confusables data (UTS #39, through the maintained
  `confusable_homoglyphs` package) lists as a homoglyph of an ASCII character becomes that
  character, the ASCII look-alikes I/1/| (as l) and 0 (as O) fold, then all is casefolded. `аlice` (Cyrillic а) and `alice`
  share a skeleton. The skeleton is stored on the user with a unique index, so two accounts
  can never look alike, even when registered in parallel.
- `username_dangerous`: a mixed-script name containing a character confusable with another
  script (`confusable_homoglyphs.confusables.is_dangerous`), refused even when nothing looks
  like it yet.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs import confusables
from rest_framework import serializers

# ASCII look-alikes (UTS #39 maps these to one prototype), applied before casefolding.
_ASCII_FOLDS = str.maketrans({"I": "l", "1": "l", "|": "l", "0": "O"})


def username_normalize(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw)


@functools.lru_cache(maxsize=4096)
def _latin_prototype(char: str) -> str:
    if char.isascii():
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"])
    for entry in found or ():
        for glyph in entry["homoglyphs"]:
            if glyph["c"].isascii():
                return glyph["c"]
    return char


def username_skeleton(username: str) -> str:
    mapped = "".join(_latin_prototype(c) for c in username_normalize(username))
    return mapped.translate(_ASCII_FOLDS).casefold()


def username_dangerous(username: str) -> bool:
    return bool(confusables.is_dangerous(username_normalize(username)))


class UsernameField(serializers.CharField):
    """A username as typed: NFKC-normalised before any other check (login and register)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return username_normalize(value)
