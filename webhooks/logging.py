"""The task engine's line about a delivery that did not deliver: one line, no traceback."""

from __future__ import annotations

import logging


class UndeliveredAttemptFilter(logging.Filter):
    """On the ``django_tasks`` logger: a task that ended with ``AttemptNotDelivered`` (an expected
    outcome, already logged by the ``webhooks`` logger) is logged at WARNING, with the
    exception's message instead of a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .tasks import AttemptNotDelivered

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, AttemptNotDelivered):
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{record.msg} (%s)"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()), exc)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
