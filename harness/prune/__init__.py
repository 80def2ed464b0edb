"""Structured pruning of Ultralytics detectors: prunable block rewrites and Torch-Pruning runs.

``harness.prune.modules`` holds the classes a pruned model is made of; it needs only torch and
Ultralytics. ``harness.prune.structured`` imports Torch-Pruning lazily.
"""
