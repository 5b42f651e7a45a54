"""The benchmark of issue 6: the Cases API against hand-written Django views, on PostgreSQL."""
