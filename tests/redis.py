"""The Redis database the tests that need a real Redis share (grouped on one xdist worker in
``tests/conftest.py``). ``TEST_REDIS_URL`` moves them, so two checkouts can run at once."""

import os

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
