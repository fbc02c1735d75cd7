"""Storage-level errors the shop translates into business answers (shop/ never sees the
driver's exception types)."""


class InsufficientBalance(Exception):
    """A debit would make the balance negative (the CHECK constraint refused it)."""


class Conflict(Exception):
    """A uniqueness rule refused a write (the driver's IntegrityError, translated)."""


class DuplicateActiveJob(Conflict):
    """Another unfinished order exists for the same service and link."""


class DuplicateConfirmation(Conflict):
    """This confirmation card already made an order (two confirms raced)."""


class DuplicatePanelOrder(Conflict):
    """Another order already holds this panel order id."""


class DuplicatePendingTopup(Conflict):
    """A pending bank transfer with the same amount and depositor already exists."""
