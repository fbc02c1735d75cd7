"""Secrets never reach a log line: a filter masks them in every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MIN_SECRET_LEN = 4


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # A 1–3 character "secret" (a placeholder like "k") would mask every such letter
        # in every log line; real tokens and keys are far longer.
        self.secrets = sorted((s for s in secrets if len(s) >= MIN_SECRET_LEN), key=len,
                              reverse=True)  # fmt: skip

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so the formatter uses our text.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._mask(formatted)
        return True


def install_secret_filter(secrets: Iterable[str]) -> None:
    flt = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)
