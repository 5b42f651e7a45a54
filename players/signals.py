from django.dispatch import Signal

# Sent inside the merge's transaction with ``survivor`` (a player id) and ``merged`` (the ids
# merged into it), so the layers above re-point what named the merged players.
players_merged = Signal()
