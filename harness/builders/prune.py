"""Build a pruned, fine-tuned checkpoint from a PruneRecipe.

Each pruning step runs in a fresh Python process (``python -m harness.builders.prune``): it loads
the checkpoint through Ultralytics, rewrites and prunes it (structured, with Torch-Pruning) or
zeroes weights (unstructured), and
saves an ordinary Ultralytics ``.pt`` through ``YOLO.save``. The child's peak resident memory is
therefore the pruning's own, not the test session's. Fine-tuning runs after every step through
Ultralytics' public ``train`` with a trainer that keeps the pruned model as it is (Ultralytics'
own trainer rebuilds the model from its YAML and would undo the pruning).

The artifact holds ``model.pt``, ``prune.json`` (each step's measurements, see :func:`read_report`)
and, when fine-tuned, the last step's Ultralytics ``results.csv`` as ``train_results.csv``.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.builders import BuildContext, builder, materialize
from harness.builders.train import MODEL_FILE, RESULTS_FILE, FitArgs, fit, no_val_trainer
from harness.builders.weights import load_yolo, yolo_net
from harness.errors import HarnessError
from harness.fsutil import atomic_write_text
from harness.measure.size import read_status_kib
from harness.recipes import PruneRecipe, PruneSpec

REPORT_FILE = "prune.json"
BUILDER_VERSION = "4"  # part of every PruneRecipe's hash: bump when prune.json's meaning or the fine-tune changes (4: channels-last)


@dataclass(frozen=True)
class PruneJob:
    """One pruning step, as sent to the child process."""

    source: Path
    out: Path
    spec: PruneSpec
    ratio: float  # this step's ratio (iterative steps compound to spec.ratio)
    imgsz: int
    threads: int
    data_yaml: Path
    taylor_batches: int
    batch: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths as strings, the spec as a table)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return out | {k: str(out[k]) for k in ("source", "out", "data_yaml")} | {"spec": self.spec.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruneJob:
        """Inverse of :meth:`to_dict`."""
        paths = {k: Path(data[k]) for k in ("source", "out", "data_yaml")}
        return cls(**(data | paths | {"spec": PruneSpec(**data["spec"])}))


def step_ratio(ratio: float, steps: int) -> float:
    """The per-step ratio whose ``steps`` compounded steps remove ``ratio`` of the channels."""
    return 1.0 - (1.0 - ratio) ** (1.0 / steps)


@functools.cache
def keep_model_trainer() -> type:
    """Ultralytics' detection trainer (without validation passes, see
    :func:`~harness.builders.train.no_val_trainer`), except that it trains the model it is given as it is.

    Built on first use: importing Ultralytics' trainer imports torch, which a process that only
    serves an ONNX graph (the memory probe) must not pay for.
    """

    class KeepModelTrainer(no_val_trainer()):  # type: ignore[misc]
        def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
            """The given (pruned) model itself; Ultralytics' version would rebuild it from ``cfg``."""
            if weights is None:
                raise HarnessError("fine-tuning a pruned model needs the model object (got no weights)")
            return weights

    return KeepModelTrainer


@builder(PruneRecipe)
def _prune(recipe: PruneRecipe, ctx: BuildContext, tmp: Path) -> str:
    data_yaml = materialize(recipe.data, ctx)
    current = materialize(recipe.source, ctx)
    steps: list[dict[str, Any]] = []
    for step in range(recipe.spec.steps):
        step_dir = tmp / f"step{step + 1}"
        step_dir.mkdir()
        job = _job(recipe, current, step_dir / "pruned.pt", data_yaml, ctx.threads, step)
        where = f"step {step + 1}/{recipe.spec.steps}"
        ctx.log(f"harness: pruning {where} ({recipe.spec.slug}, ratio {job.ratio:.3f})")
        steps.append(run_job(job))
        current = job.out
        if recipe.spec.finetune_epochs:
            current = _finetune(recipe, current, data_yaml, ctx, step_dir, step)
            if (step_dir / RESULTS_FILE).is_file():  # the last step's epochs
                shutil.copy2(step_dir / RESULTS_FILE, tmp / RESULTS_FILE)
    shutil.copy2(current, tmp / MODEL_FILE)
    atomic_write_text(
        tmp / REPORT_FILE, json.dumps({"spec": recipe.spec.to_dict(), "steps": steps}, indent=2)
    )
    for step_dir in tmp.glob("step*"):
        shutil.rmtree(step_dir, ignore_errors=True)
    return MODEL_FILE


def _job(recipe: PruneRecipe, source: Path, out: Path, data_yaml: Path, threads: int, step: int) -> PruneJob:
    return PruneJob(
        source=source,
        out=out,
        spec=recipe.spec,
        ratio=step_ratio(recipe.spec.ratio, recipe.spec.steps),
        imgsz=recipe.imgsz,
        threads=threads,
        data_yaml=data_yaml,
        taylor_batches=recipe.taylor_batches,
        batch=recipe.batch,
        seed=recipe.seed + step,
    )


def _finetune(
    recipe: PruneRecipe, pruned: Path, data_yaml: Path, ctx: BuildContext, where: Path, step: int
) -> Path:
    """Fine-tune the pruned checkpoint for ``spec.finetune_epochs`` epochs; the result's path."""
    ctx.log(f"harness: fine-tuning {recipe.spec.slug} for {recipe.spec.finetune_epochs} epochs")
    args = FitArgs(
        data_yaml, recipe.spec.finetune_epochs, recipe.batch, recipe.imgsz, recipe.seed + step, recipe.hyp
    )
    label = f"fine-tune {recipe.spec.slug} (step {step + 1}/{recipe.spec.steps})"
    return fit(load_yolo(pruned), args, ctx, where, trainer=keep_model_trainer(), label=label)


def run_job(job: PruneJob) -> dict[str, Any]:
    """Run one pruning step in a fresh Python process (``python -m harness.builders.prune``); what it measured.

    A fresh interpreter makes the reported peak memory (``VmHWM``) the pruning's own.
    """
    job_file = job.out.with_suffix(".job.json")
    result_file = job.out.with_suffix(".result.json")
    job_file.write_text(json.dumps(job.to_dict()))
    done = subprocess.run(
        [sys.executable, "-m", "harness.builders.prune", str(job_file), str(result_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise HarnessError(f"pruning {job.source} ({job.spec.slug}) failed in its child process:\n{tail}")
    return json.loads(result_file.read_text())


def prune_in_process(job: PruneJob) -> dict[str, Any]:
    """Load, prune and save ``job.source`` in this process; the result plus this process's peak memory."""
    import torch

    torch.set_num_threads(job.threads)
    torch.manual_seed(job.seed)
    yolo = load_yolo(job.source)
    model = yolo_net(yolo)
    model.float().requires_grad_(True)
    if job.spec.method == "unstructured":
        from harness.prune.unstructured import prune_unstructured

        result = asdict(prune_unstructured(model, job.ratio))
    else:
        result = asdict(_prune_structured(model, job))
    model.requires_grad_(False)
    yolo.save(job.out)
    # This process's own high-water mark: ru_maxrss would carry the parent's across fork + exec.
    peak = read_status_kib("VmHWM")
    return {**result, "process_peak_rss_mib": None if peak is None else peak / 1024}


def _prune_structured(model: Any, job: PruneJob) -> Any:
    import torch

    from harness.prune.criteria import needs_gradients, needs_squared_gradients
    from harness.prune.structured import prune_model

    batches = None
    if needs_gradients(job.spec.criterion):
        from harness.prune.taylor import loss_batches

        # Fisher: the same images one per batch, so that each squared gradient is one image's
        per_image = needs_squared_gradients(job.spec.criterion)
        count, size = (job.taylor_batches * job.batch, 1) if per_image else (job.taylor_batches, job.batch)
        batches = loss_batches(job.data_yaml, job.imgsz, count, size, job.seed)
    return prune_model(
        model,
        job.ratio,
        criterion=job.spec.criterion,
        strategy=job.spec.strategy,
        rounding=job.spec.rounding,
        round_to=job.spec.round_to,
        example_inputs=torch.zeros(1, 3, job.imgsz, job.imgsz),
        gradient_batches=batches,
    )


def read_report(artifact_dir: Path) -> dict[str, Any]:
    """``prune.json`` of a built PruneRecipe artifact."""
    return read_json_report(artifact_dir / REPORT_FILE, "pruning report")


def read_json_report(path: Path, what: str) -> dict[str, Any]:
    """A builder's JSON report, or a HarnessError naming ``what`` and the file."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{what} {path} is missing or unreadable: {exc}") from exc


def main(argv: list[str]) -> int:
    """Child entry point: ``python -m harness.builders.prune JOB.json RESULT.json``."""
    job = PruneJob.from_dict(json.loads(Path(argv[0]).read_text()))
    Path(argv[1]).write_text(json.dumps(prune_in_process(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
