"""Match keys that more than one stage computes the same way (load stores them in the master
index, match compares them)."""

from __future__ import annotations

from etl.text.normalize import fold


def address_key(address: object) -> str | None:
    """The address as matching compares it: folded, punctuation as spaces."""
    if not isinstance(address, str) or not address.strip():
        return None
    return " ".join(fold(address).replace(",", " ").replace(".", " ").split()) or None
