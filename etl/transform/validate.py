"""Validation findings as rows, and the policy that decides which ones reject a record.

Findings are typed by a stable slug (``invalid-date``, ``cccd-sex-mismatch``…) so operators can
count, filter and fix them; the policy is data, so a district can make a warning fatal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

REJECT, WARN = "reject", "warn"

DEFAULT_POLICY: dict[str, str] = {
    "missing-name": REJECT,
    "invalid-birth-date": REJECT,
    "future-birth-date": REJECT,
    "missing-birth-date": WARN,
    "ambiguous-birth-date": WARN,
    "invalid-personal-id": WARN,
    "cccd-sex-mismatch": WARN,
    "cccd-year-mismatch": WARN,
    "leading-zero-restored": WARN,
    "invalid-cmnd": WARN,
    "invalid-passport": WARN,
    "invalid-insurance-card": WARN,
    "invalid-social-insurance-code": WARN,
    "card-code-mismatch": WARN,
    "unknown-sex": WARN,
    "unknown-ethnicity": WARN,
    "unknown-commune": WARN,
    "name-order-reversed": WARN,
    "invalid-phone": WARN,
}

ISSUE_COLUMNS = ["source_file", "file_sha256", "locator", "field", "slug", "severity", "value",
                 "message"]


@dataclass(frozen=True)
class Issue:
    """One finding about one field of one record (position, never personal data, in message)."""

    source_file: str
    file_sha256: str
    locator: str
    field: str
    slug: str
    severity: str
    value: str | None
    message: str

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def severity(slug: str, policy: dict[str, str] | None = None) -> str:
    return (policy or DEFAULT_POLICY).get(slug, WARN)
