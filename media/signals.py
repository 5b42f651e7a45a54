"""Signals the media app sends; other apps listen without media knowing them."""

from django.dispatch import Signal

# Sent by ``media.services`` inside the transaction that changes a file, with ``file`` (the File
# as the change left it; for a deletion, as it was) and ``change``: ``"created"``, ``"blocked"``
# (its abuse status became blocked) or ``"deleted"``. A receiver's writes commit or roll back
# with the change itself.
file_changed = Signal()
