"""A namespace file the orders-report example imports: upload it as scripts/thresholds.py (see the README)."""


def minimum_total() -> float:
    return 120.0
