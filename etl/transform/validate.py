"""Validation findings as rows, and the policy that decides which ones reject a record.

Findings are typed by a stable slug (``invalid-date``, ``cccd-sex-mismatch``…) so operators can
count, filter and fix them; the policy is data, so a district can make a warning fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from etl.errors import UsageError

REJECT, WARN = "reject", "warn"

DEFAULT_POLICY: dict[str, str] = {
    "missing-name": REJECT,
    "invalid-birth-date": REJECT,
    "future-birth-date": REJECT,
    "missing-birth-date": WARN,
    "ambiguous-birth-date": WARN,
    "birth-date-year-kept": WARN,
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
    "ambiguous-commune": WARN,
    "commune-code-mismatch": WARN,
    "name-order-reversed": WARN,
    "invalid-phone": WARN,
    "unknown-icd10": WARN,
    "invalid-icd10": WARN,
    "implausible-vital": WARN,
    "unparsed-vital": WARN,
    "bmi-mismatch": WARN,
    "unknown-health-class": WARN,
    "unknown-vaccine": WARN,
    "invalid-date": WARN,
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
        # Plain fields: a dict of them (``asdict`` deep-copies recursively, 30 µs a finding,
        # and a province's transform has hundreds of thousands of findings).
        return dict(vars(self))


def load_policy(path: Path) -> dict[str, str]:
    """The default policy overlaid with a YAML file of ``slug: reject|warn`` lines."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read policy {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a policy maps finding slugs to 'reject' or 'warn'")
    policy = dict(DEFAULT_POLICY)
    for slug, action in data.items():
        if action not in (REJECT, WARN):
            raise UsageError(f"{path}: {slug}: expected 'reject' or 'warn', got {action!r}")
        if slug not in DEFAULT_POLICY:
            raise UsageError(f"{path}: unknown finding {slug!r}",
                             hint="known: " + ", ".join(sorted(DEFAULT_POLICY)))
        policy[slug] = action
    return policy


def severity(slug: str, policy: dict[str, str] | None = None) -> str:
    return (policy or DEFAULT_POLICY).get(slug, WARN)
