"""The ``[studies.class_imbalance]`` table: long-tailed training and its treatments::

    [studies.class_imbalance]
    frequencies = [40, 20, 10, 5, 2, 1]   # class frequencies of the embedded dataset's train split
    methods = ["loss_weights", "focal", "median_frequency", "balanced_sampler"]
    epochs = 16                           # every method and the untreated control train this long
    imgsz = 160                           # training and evaluation image size
    models = ["yolo11n"]                  # [[models]] names (absent: every model)
    rare = ["cross", "ring"]              # the rare group (absent: the rarer half of the train classes)
    loss_weights = {cls = 1.5}            # Ultralytics loss gains (box, cls, dfl) of "loss_weights"
    focal = {gamma = 1.5, alpha = 0.25}
    min_rare_gain = 0.0                   # a bar: each method's rare-class AP gain over the control
                                          # (absent: gains recorded, not judged)

On the embedded dataset the train (and calib) split gets the long tail; val keeps every class
equally frequent, so that each class's AP is measured on as many objects. A config with its own
``data`` trains on that data as it is (``frequencies`` is then an error). A model from a YAML
trains from scratch; a model from a ``.pt`` fine-tunes from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.config.reader import Where, check_keys
from harness.recipes import BALANCE_METHODS

__all__ = ["IMBALANCE_KEYS", "IMBALANCE_METHODS", "LONG_TAIL", "ImbalanceSpec"]

IMBALANCE_METHODS = ("loss_weights", *BALANCE_METHODS)
IMBALANCE_KEYS = (
    "frequencies", "methods", "epochs", "imgsz", "models", "rare", "loss_weights", "focal", "min_rare_gain",
)  # fmt: skip
LOSS_GAINS = ("box", "cls", "dfl")
LONG_TAIL = (40.0, 20.0, 10.0, 5.0, 2.0, 1.0)


@dataclass(frozen=True)
class ImbalanceSpec:
    """What the class-imbalance study trains, and its bar."""

    frequencies: tuple[float, ...] | None = None  # None: LONG_TAIL on the embedded dataset
    methods: tuple[str, ...] = IMBALANCE_METHODS
    epochs: int = 16
    imgsz: int = 160
    models: tuple[str, ...] | None = None
    rare: tuple[str, ...] | None = None
    loss_weights: Mapping[str, float] = field(default_factory=lambda: {"cls": 1.5})
    gamma: float = 1.5
    alpha: float = 0.25
    min_rare_gain: float | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> ImbalanceSpec:
        """Parse the table; a bad key, type or method is a ConfigError naming it."""
        check_keys(table, IMBALANCE_KEYS, where)
        default = cls()
        focal = where.table(table.get("focal", {}), "focal")
        check_keys(focal, ("gamma", "alpha"), where.child("focal"))
        return cls(
            frequencies=_frequencies(table.get("frequencies"), where),
            methods=tuple(dict.fromkeys(
                where.choice(m, "methods", IMBALANCE_METHODS)
                for m in where.sequence(table.get("methods", list(default.methods)), "methods")
            )),
            epochs=where.integer(table.get("epochs", default.epochs), "epochs", minimum=1),
            imgsz=where.integer(table.get("imgsz", default.imgsz), "imgsz", minimum=32),
            models=where.optional_strings(table.get("models"), "models"),
            rare=where.optional_strings(table.get("rare"), "rare"),
            loss_weights=_gains(table.get("loss_weights", dict(default.loss_weights)), where),
            gamma=where.child("focal").number(focal.get("gamma", default.gamma), "gamma", 0.0),
            alpha=where.child("focal").number(focal.get("alpha", default.alpha), "alpha", 0.0, 1.0),
            min_rare_gain=_optional_number(table.get("min_rare_gain"), "min_rare_gain", where),
        )  # fmt: skip


def _frequencies(value: object, where: Where) -> tuple[float, ...] | None:
    if value is None:
        return None
    items = where.sequence(value, "frequencies")
    if len(items) < 2:
        raise where.error("frequencies", "a list of at least two positive numbers", value)
    return tuple(where.number(v, "frequencies", 1e-9) for v in items)


def _optional_number(value: object, name: str, where: Where) -> float | None:
    return None if value is None else where.number(value, name, -1.0, 1.0)


def _gains(value: object, where: Where) -> dict[str, float]:
    table = where.table(value, "loss_weights")
    inner = where.child("loss_weights")
    check_keys(table, LOSS_GAINS, inner)
    if not table:
        raise where.error("loss_weights", f"a table of at least one of {', '.join(LOSS_GAINS)}", value)
    return {key: inner.number(v, key, 0.0) for key, v in table.items()}
