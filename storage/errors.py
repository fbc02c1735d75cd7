"""Storage-level errors the shop translates into business answers."""


class InsufficientBalance(Exception):
    """A debit would make the balance negative (the CHECK constraint refused it)."""


class DuplicateActiveJob(Exception):
    """Another unfinished order exists for the same service and link."""


class DuplicatePendingTopup(Exception):
    """A pending bank transfer with the same amount and depositor already exists."""
