"""Match keys that more than one stage computes the same way (load stores them in the master
index, match compares them)."""

from __future__ import annotations

from etl.text.normalize import fold


def name_key(name: object) -> str | None:
    """A person's name (a mother, a household head) as matching compares it: folded."""
    return fold(name) or None if isinstance(name, str) and name else None


def address_key(address: object) -> str | None:
    """The address as matching compares it: folded, punctuation as spaces."""
    if not isinstance(address, str) or not address.strip():
        return None
    return " ".join(fold(address).replace(",", " ").replace(".", " ").split()) or None
