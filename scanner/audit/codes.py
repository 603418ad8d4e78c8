"""Exemption codes, kept apart from ``context`` so the CLI can list them
without importing pydantic."""

EXEMPTION_CODES = (
    "collected_abroad",
    "vulnerability_fix",
    "free_trade_zone",
    "trade_transport_academic",
    "contract",
    "hr",
    "emergency",
)
# Exemptions whose covered records are dropped from the counts (route row 5).
COVERING_CODES = ("contract", "hr", "emergency")
