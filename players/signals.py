from django.dispatch import Signal

# Sent inside the merge's transaction with ``survivor`` (a player id) and ``merged`` (the ids
# merged into it), so the layers above re-point what named the merged players.
players_merged = Signal()

# Sent inside the erasure's transaction with ``players`` (the erased ids), so the layers above
# drop the personal data they hold of them (the names subjects were given on cases).
player_erased = Signal()
