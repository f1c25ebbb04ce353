"""Kept for compatibility: the detector lives in :mod:`pintel.incidents` (``pintel.incidents.detect``).

Old callers -- notably the shared real-data benchmark, which runs ``score.py --detector pintel.ml.anomaly:detect``
-- keep working through this alias. New code imports from :mod:`pintel.incidents`.
"""

from __future__ import annotations

from pintel.incidents.detector import detect_frame
from pintel.incidents.robust import detect

__all__ = ["detect", "detect_frame"]
