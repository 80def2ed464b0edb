"""Benchmark and regression harness for compressing Ultralytics YOLO detectors.

Importing the package sets Ultralytics to offline mode before Ultralytics is imported:
nothing in the harness may download weights, datasets or fonts at run time.
"""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_VERBOSE", "false")

__version__ = "0.1.0"
