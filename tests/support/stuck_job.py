"""An oracle job that never finishes: what a stuck worker looks like (pickled to the real worker process)."""

from __future__ import annotations

import time


class StuckJob:
    def run(self, world: object) -> tuple:
        while True:
            time.sleep(60)
