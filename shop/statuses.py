"""The order state machine (DESIGN.md "Order lifecycle")."""

from __future__ import annotations

from fulfillment.models import PanelStatus

CREATED = "created"
SUBMITTING = "submitting"
PENDING = "pending"
PROCESSING = "processing"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
PARTIAL = "partial"
CANCELED = "canceled"
FAILED = "failed"
NEEDS_REVIEW = "needs_review"

QUEUED = (PENDING, PROCESSING)
POLLED = (PENDING, PROCESSING, IN_PROGRESS)
TERMINAL = (COMPLETED, PARTIAL, CANCELED, FAILED)
UNFINISHED = (CREATED, SUBMITTING, PENDING, PROCESSING, IN_PROGRESS, NEEDS_REVIEW)

# What a panel word means for an ordinary order. FAILED (Fail/Error) is not applied
# blindly: the panel's word is ambiguous about money, so a human looks first.
ORDER_TARGET: dict[PanelStatus, str] = {
    PanelStatus.PENDING: PENDING,
    PanelStatus.PROCESSING: PROCESSING,
    PanelStatus.IN_PROGRESS: IN_PROGRESS,
    PanelStatus.PAUSED: IN_PROGRESS,
    PanelStatus.COMPLETED: COMPLETED,
    PanelStatus.PARTIAL: PARTIAL,
    PanelStatus.CANCELED: CANCELED,
    PanelStatus.EXPIRED: COMPLETED,
    PanelStatus.FAILED: NEEDS_REVIEW,
}

# Korean/English labels live in the handlers' catalogs under "status.<name>".
ALL = (CREATED, SUBMITTING, *POLLED, *TERMINAL, NEEDS_REVIEW)
