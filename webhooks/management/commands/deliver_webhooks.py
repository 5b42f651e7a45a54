import logging
import threading
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker

from serverops.conf import serverops_setting
from webhooks.models import WebhookAttempt
from webhooks.services import events_prune, messages_sweep
from webhooks.tasks import QUEUE, worker_name

logger = logging.getLogger("webhooks")


class Command(BaseCommand):
    help = (
        "Deliver webhooks: a django-tasks database worker on the 'webhooks' queue, run until stopped "
        "(run one or more per host). --once delivers what is due now and exits, printing how many it delivered."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
        parser.add_argument(
            "--interval", type=float, default=0.2, help="seconds between polls of an empty queue (default 0.2)"
        )
        parser.add_argument(
            "--sweep-every",
            type=float,
            default=30.0,
            help="seconds between sweeps that re-queue messages whose task was lost (default 30)",
        )
        parser.add_argument(
            "--prune-every",
            type=float,
            default=3600.0,
            help="seconds between prunes of events older than EVENT_RETENTION_DAYS (default 3600; 0: never)",
        )

    def handle(
        self, *args: Any, once: bool, interval: float, sweep_every: float, prune_every: float, **options: Any
    ) -> None:
        name = worker_name()
        worker = Worker(
            queue_names=[QUEUE],
            interval=0 if once else interval,
            batch=once,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=name,
            excluded_queue_names=[],
        )
        if once:
            swept = messages_sweep(overdue=timedelta(0))
            worker.run()
            attempts = WebhookAttempt.objects.filter(worker=name)
            delivered = attempts.filter(status_code__gte=200, status_code__lt=300).count()
            self.stderr.write(f"{attempts.count()} attempt(s), {delivered} delivered ({swept} re-queued by the sweep).")
            self.stdout.write(str(delivered))
            return
        stop = threading.Event()
        sweeper = threading.Thread(target=self._sweep, args=(stop, sweep_every), name="webhook-sweep", daemon=True)
        sweeper.start()
        if prune_every > 0:
            pruner = threading.Thread(target=self._prune, args=(stop, prune_every), name="event-prune", daemon=True)
            pruner.start()
        self.stderr.write(f"Delivering webhooks as {name}; Ctrl-C to stop.")
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()

    def _sweep(self, stop: threading.Event, every: float) -> None:
        # The lease of a dead worker's message runs out; the sweep then queues the message again.
        while not stop.wait(every):
            try:
                swept = messages_sweep(overdue=timedelta(seconds=every))
                if swept:
                    logger.info("re-queued %d overdue webhook message(s)", swept)
            except Exception:
                logger.exception("webhook sweep failed; trying again in %s s", every)
            finally:
                close_old_connections()
                connection.close()

    def _prune(self, stop: threading.Event, every: float) -> None:
        # The feed's retention (prune_events), so `make run` keeps it without cron: at start, then every ``every``.
        while True:
            try:
                kept = timedelta(days=serverops_setting("EVENT_RETENTION_DAYS"))
                pruned = events_prune(older_than=kept)
                if pruned:
                    logger.info("pruned %d event(s) older than %s", pruned, kept)
            except Exception:
                logger.exception("event prune failed; trying again in %s s", every)
            finally:
                close_old_connections()
                connection.close()
            if stop.wait(every):
                return
