"""Pruning of Ultralytics detectors: prunable block rewrites, Torch-Pruning runs, weight zeroing.

``harness.prune.modules`` holds the classes a pruned model is made of; it needs only torch and
Ultralytics. ``harness.prune.structured`` (channel pruning, by a criterion from
``harness.prune.criteria`` and a uniform or global strategy) imports Torch-Pruning lazily;
``harness.prune.taylor`` builds the labelled batches and loss that gradient criteria need;
``harness.prune.unstructured`` zeroes weights without changing any shape.
"""
