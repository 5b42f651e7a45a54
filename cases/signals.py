"""Signals the cases app sends; other apps listen without cases knowing them."""

from django.dispatch import Signal

# Sent by ``cases.services`` inside the transaction that writes CaseEvents, once per write,
# with ``events``: the CaseEvents just saved. Each ``event.case`` carries at least ``id``,
# ``project_id`` and ``mode``; ``current`` says whether it is also the case as the change
# left it (False after a bulk UPDATE, whose receivers read the cases they need).
# A receiver's writes commit or roll back with the change itself.
case_events_recorded = Signal()

# Sent inside the transaction that adds a note to a case, with ``case`` (the Case as the API
# returns it: evidence and subjects loaded), ``note`` (the Note just saved) and ``event`` (the
# case event that records it, whose id the announcement keeps). The note's case event is not
# announced as a ``case.updated`` too: the webhooks app records one ``case.note_added`` for it.
case_note_added = Signal()
