"""The ``[mixed_precision]`` table: the search that puts the layer groups whose quantization costs
the most measured mAP back in float."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["MixedPrecisionSpec"]


@dataclass(frozen=True)
class MixedPrecisionSpec:
    """The mixed-precision search: recover at least ``recover`` of the worst ONNX Runtime INT8
    configuration's mAP loss, putting at most ``max_steps`` layer groups (modules) back in float,
    one per step, ranked by the share of INT8's output error against FP32 each one alone removes
    on ``search_images`` held-out images (neither calibration nor val)."""

    recover: float = 0.5
    max_steps: int = 8
    search_images: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.recover <= 1.0:
            raise ValueError(f"mixed_precision.recover must be in (0, 1], got {self.recover}")
        if self.max_steps < 1 or self.search_images < 1:
            raise ValueError("mixed_precision.max_steps and search_images must be >= 1")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], where: Where) -> MixedPrecisionSpec:
        """Parse ``[mixed_precision]``; absent keys keep their defaults."""
        check_keys(table, ("recover", "max_steps", "search_images"), where)
        fields: dict[str, object] = {}
        if "recover" in table:
            recover = where.number(table["recover"], "recover", 0.0)
            if not 0.0 < recover <= 1.0:
                raise where.error("recover", "a fraction in (0, 1]", table["recover"])
            fields["recover"] = recover
        for key in ("max_steps", "search_images"):
            if key in table:
                fields[key] = where.integer(table[key], key, 1)
        return cls(**fields)  # type: ignore[arg-type]


def _mixed_precision(mapping: Mapping[str, object], where: Where) -> MixedPrecisionSpec | None:
    """The ``mixed_precision`` table, or None when the config has none."""
    if "mixed_precision" not in mapping:
        return None
    table = where.table(mapping["mixed_precision"], "mixed_precision")
    return MixedPrecisionSpec.from_mapping(table, where.child("mixed_precision"))
