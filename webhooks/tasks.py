"""Delivery runs on django-tasks (the backport of Django 6's ``django.tasks``), queue ``webhooks``."""

from __future__ import annotations

import os
import socket

from django_tasks import TaskContext, task

from .services import message_deliver

QUEUE = "webhooks"
# What ``message_deliver`` returns when nothing went wrong: sent, or rightly not attempted.
FINE = frozenset({"delivered", "skipped", "postponed"})


class AttemptNotDelivered(Exception):
    """An attempt failed or was refused. Raised so the task engine records (and logs) the task
    as FAILED: an attempt that did not deliver must never read as SUCCESSFUL in a log. The
    message is already rescheduled or failed by then; the task itself is never retried."""


def worker_name() -> str:
    """``host:pid``: which process on which host made an attempt, as the delivery log shows it."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}"


@task(queue_name=QUEUE, takes_context=True)
def deliver_message(context: TaskContext, message_id: str) -> str:
    """One delivery attempt of the outbox message ``message_id`` (``message_deliver``)."""
    workers = context.task_result.worker_ids
    result = message_deliver(message_id=message_id, worker=workers[-1] if workers else worker_name())
    if result not in FINE:
        raise AttemptNotDelivered(f"message {message_id}: {result} (see the webhooks log line before this one)")
    return result
