"""Builders: turn recipes into artifacts through the cache, dispatched on recipe type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from harness.cache import Artifact, ArtifactCache
from harness.recipes import Recipe

R = TypeVar("R", bound=Recipe)
Builder = Callable[[R, "BuildContext", Path], str]
Resolver = Callable[[R, "BuildContext"], Path]


@dataclass(frozen=True)
class BuildContext:
    """What every builder may use: the cache, the compute device and the thread count."""

    cache: ArtifactCache
    device: str = "cpu"
    threads: int = 2
    log: Callable[[str], None] = lambda message: None


_BUILDERS: dict[type[Recipe], Builder] = {}
_EXTERNAL: dict[type[Recipe], Resolver] = {}


def builder(recipe_type: type[R]) -> Callable[[Builder], Builder]:
    """Register ``fn(recipe, ctx, tmpdir) -> artifact file name`` for a recipe type."""

    def register(fn: Builder) -> Builder:
        _BUILDERS[recipe_type] = fn
        return fn

    return register


def external(recipe_type: type[R]) -> Callable[[Resolver], Resolver]:
    """Register ``fn(recipe, ctx) -> path`` for a recipe that names a user's file (not cached)."""

    def register(fn: Resolver) -> Resolver:
        _EXTERNAL[recipe_type] = fn
        return fn

    return register


def build(recipe: Recipe, ctx: BuildContext) -> Artifact:
    """Build ``recipe`` (once per cache key) and return the cached artifact."""
    _load_builders()
    fn = _BUILDERS.get(type(recipe))
    if fn is None:
        raise TypeError(f"no builder registered for {type(recipe).__name__}")
    found = ctx.cache.get(recipe)
    if found is not None:
        return found
    ctx.log(f"harness: building {recipe.describe()} (cache key {recipe.key()[:12]})")
    artifact = ctx.cache.get_or_build(recipe, lambda tmp: fn(recipe, ctx, tmp))
    ctx.log(f"harness: built {recipe.kind} {recipe.key()[:12]} in {artifact.build_seconds:.0f} s")
    return artifact


def materialize(recipe: Recipe, ctx: BuildContext) -> Path:
    """Path of the file ``recipe`` stands for: a user's file as is, or a built cache artifact."""
    _load_builders()
    resolver = _EXTERNAL.get(type(recipe))
    if resolver is not None:
        return resolver(recipe, ctx)
    return build(recipe, ctx).path


def _load_builders() -> None:
    """Import the builder modules so that their registrations run (cheap after the first call)."""
    from harness.builders import data, distill, export, prune, tensorrt, train  # noqa: F401
    from harness.builders import ncnn as _ncnn  # noqa: F401
    from harness.builders import tflite as _tflite  # noqa: F401
    from harness.builders.quantize import onnxruntime as _ort_quantize  # noqa: F401
    from harness.builders.quantize import openvino as _ov_quantize  # noqa: F401
    from harness.builders.quantize import revert as _revert  # noqa: F401
