"""Config loading: file discovery, profile layering, path resolution and every error path."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from harness import config as config_module
from harness.backends.registry import known_backends
from harness.config import (
    FALLBACK_BACKENDS,
    HarnessConfig,
    MatrixSpec,
    ModelSpec,
    default_known_backends,
    find_config,
    load_config,
    loader,
)
from harness.config import backends as backend_table
from harness.config.budgets import Budget
from harness.config.profiles import PROFILES, profile_defaults
from harness.errors import ConfigError

BACKENDS = known_backends()


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def _load(root: Path, **kwargs: object) -> HarnessConfig:
    return load_config(root, known_backends=BACKENDS, **kwargs)  # type: ignore[arg-type]


# --- profiles -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_defaults_load_without_a_config_file(tmp_path: Path, name: str) -> None:
    cfg = _load(tmp_path, profile=name)
    data = PROFILES[name]
    assert cfg.profile == name and cfg.source is None
    assert cfg.imgsz == data["imgsz"]
    assert [m.name for m in cfg.models] == [m["name"] for m in data["models"]]  # type: ignore[index]
    assert cfg.matrix.backend == tuple(data["matrix"]["backend"])  # type: ignore[index]
    assert cfg.latency.rounds == data["latency"]["rounds"]  # type: ignore[index]
    assert cfg.dataset.n_val == data["dataset"]["n_val"]  # type: ignore[index]
    assert cfg.cache_dir == tmp_path / ".harness-cache"
    assert cfg.data is None and cfg.device == "cpu"


def test_quick_profile_values(tmp_path: Path) -> None:
    cfg = _load(tmp_path, profile="quick")
    assert (cfg.dataset.n_train, cfg.dataset.n_val, cfg.dataset.n_calib, cfg.imgsz) == (32, 16, 8, 64)
    assert cfg.models == (ModelSpec("yolo11n", None, "yolo11n.yaml", 1, 8, 64),)
    assert cfg.matrix == MatrixSpec((0.0,), ("fp32",), ("torch", "onnxruntime"))
    assert (cfg.latency.warmup, cfg.latency.rounds, cfg.latency.interleaved_rounds) == (2, 10, 15)
    assert cfg.latency.throughput_batch == 2


def test_default_and_full_profiles(tmp_path: Path) -> None:
    default = _load(tmp_path)
    assert default.profile == "default"
    assert (default.dataset.n_train, default.dataset.n_val, default.dataset.n_calib) == (640, 500, 1000)
    model = default.models[0]
    assert (model.epochs, model.batch, model.pre_epochs, default.imgsz) == (3, 8, 16, 320)
    full = _load(tmp_path, profile="full")
    assert [m.name for m in full.models] == ["yolo11n", "yolov8n", "yolo26n", "yolo11s"]
    assert (full.imgsz, full.dataset.n_train, full.dataset.n_val) == (320, 640, 500)
    assert full.matrix.precision == ("fp32", "fp16", "bf16", "int8")
    assert default.matrix.precision == ("fp32", "fp16", "int8")
    assert len(full.matrix.quant) > len(default.matrix.quant) == 3
    assert [q.slug for q in default.matrix.quant_for("openvino")] == ["qdq-pc-s8s8-minmax-c100"]
    assert [q.slug for q in default.matrix.quant_for("ncnn")] == ["qdq-pc-s8s8-percentile-c100"]
    assert "onnxruntime-trt" in full.matrix.backend


def test_the_fastest_yolo11n_config_shares_the_repositorys_cache_and_reports() -> None:
    """configs/fastest-yolo11n.toml (README, "The fastest yolo11n"): the default profile's
    reference from the main job's cache, a Fisher p65 student rounded to the nearest multiple of 8
    with 20 KD epochs at 4 seeds, 0.01 budgets, 300 interleaved rounds against PyTorch."""
    root = Path(__file__).resolve().parents[2]
    config = _load(root, path=root / "configs" / "fastest-yolo11n.toml")
    assert config.profile == "default"
    assert config.cache_dir.resolve() == root / ".harness-cache"
    assert config.reports_dir.resolve() == root / "reports"
    assert (config.matrix.prune, config.matrix.prune_criterion) == ((0.0, 0.65), ("fisher",))
    assert (config.pruning.round_to, config.pruning.rounding) == (8, "nearest")
    assert [s.prune for s in config.distill.students] == [0.65]
    assert config.distill.epochs == 20
    assert config.latency == _load(root).latency  # the default's: only the recommendation times longer
    assert config.verdicts.training_seeds == 4
    assert config.budgets.pruned.max_map_drop == 0.01
    recommendation = {"combine": True, "min_speedup": 8.0, "interleaved_rounds": 300}
    assert dict(config.studies.tables)["recommendation"] == recommendation


def test_the_trained_reference_config_fine_tunes_one_student_long() -> None:
    """configs/fastest-yolo11n-trained-reference.toml (README, "The fastest yolo11n"): the default
    profile with its reference trained 23 epochs, the Fisher p65 nearest-8 student fine-tuned 160
    epochs without a teacher, two seeds, 0.01 budgets, 300 interleaved rounds."""
    root = Path(__file__).resolve().parents[2]
    config = _load(root, path=root / "configs" / "fastest-yolo11n-trained-reference.toml")
    assert config.profile == "default"
    assert config.cache_dir.resolve() == root / ".harness-cache"
    assert [m.epochs for m in config.models] == [23]
    assert (config.matrix.prune, config.matrix.prune_criterion) == ((0.0, 0.65), ("fisher",))
    assert (config.pruning.round_to, config.pruning.rounding) == (8, "nearest")
    assert config.pruning.finetune_epochs == 160
    assert config.distill.students == ()
    assert config.latency.interleaved_rounds == 300
    assert config.verdicts.training_seeds == 2
    assert config.budgets.pruned.max_map_drop == 0.01
    assert dict(config.studies.tables)["recommendation"] == {"combine": True, "min_speedup": 8.0}


def test_profile_defaults_are_copies() -> None:
    data = profile_defaults("quick")
    data["models"].append({"name": "x"})  # type: ignore[attr-defined]
    assert len(PROFILES["quick"]["models"]) == 1  # type: ignore[arg-type]


def test_unknown_profile_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'quik'.*did you mean 'quick'\?"):
        profile_defaults("quik")


def test_config_is_frozen_and_hashable(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    hash(cfg)
    with pytest.raises(FrozenInstanceError):
        cfg.imgsz = 1  # type: ignore[misc]


# --- files and layering ---------------------------------------------------------------


def test_pyproject_tool_harness_is_read(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", """
        [project]
        name = "x"
        [tool.harness]
        profile = "quick"
        imgsz = 96
        threads = 3
        [tool.harness.matrix]
        prune = [0.0, 0.25]
    """)  # fmt: skip
    cfg = _load(tmp_path)
    assert cfg.source == tmp_path / "pyproject.toml"
    assert (cfg.profile, cfg.imgsz, cfg.threads) == ("quick", 96, 3)
    assert cfg.matrix.prune == (0.0, 0.25)
    assert cfg.matrix.backend == ("torch", "onnxruntime")  # kept from the profile
    assert cfg.models[0].train_imgsz == 96  # train imgsz follows the run's imgsz


def test_pyproject_without_tool_harness_means_defaults(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    assert find_config(tmp_path) is None
    assert _load(tmp_path).source is None


def test_harness_toml_wins_over_pyproject(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", "[tool.harness]\nimgsz = 96\n")
    _write(tmp_path / "harness.toml", "imgsz = 128\n")
    cfg = _load(tmp_path)
    assert cfg.source == tmp_path / "harness.toml" and cfg.imgsz == 128


def test_explicit_path_and_relative_paths_resolve_against_its_directory(tmp_path: Path) -> None:
    _write(tmp_path / "conf" / "data" / "data.yaml", "names: [a]\n")
    _write(tmp_path / "conf" / "w" / "best.pt", "")
    _write(tmp_path / "conf" / "my.yaml", "nc: 1\n")
    _write(tmp_path / "conf" / "bench.toml", """
        data = "data/data.yaml"
        cache_dir = "cache"
        [train]
        epochs = 3
        batch = 4
        [[models]]
        name = "det-n"
        weights = "w/best.pt"
        teacher = "w/best.pt"
        [[models]]
        name = "local"
        cfg = "my.yaml"
        train = {imgsz = 160}
        [[models]]
        name = "hub"
        cfg = "yolo11s.yaml"
    """)  # fmt: skip
    cfg = _load(tmp_path, path=Path("conf/bench.toml"))
    conf = tmp_path / "conf"
    assert cfg.data == conf / "data" / "data.yaml"
    assert cfg.cache_dir == conf / "cache"
    assert cfg.reports_dir == conf / "reports"  # profile default, relative to the config dir
    det, local, hub = cfg.models
    assert (det.weights, det.cfg, det.teacher) == (conf / "w" / "best.pt", None, conf / "w" / "best.pt")
    assert local.cfg == str(conf / "my.yaml") and local.train_imgsz == 160
    assert hub.cfg == "yolo11s.yaml"  # an Ultralytics model name, not a local file
    assert (hub.epochs, hub.batch, hub.train_imgsz) == (3, 4, 320)


def test_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        _load(tmp_path, path=tmp_path / "nope.toml")


def test_precedence_profile_file_overrides(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", """
        profile = "default"
        imgsz = 96
        [latency]
        rounds = 7
    """)  # fmt: skip
    cfg = _load(tmp_path, profile="quick", overrides={"imgsz": 128, "matrix": {"backend": ["torch"]}})
    assert cfg.profile == "quick"  # the argument beats the file
    assert cfg.imgsz == 128  # override beats file
    assert cfg.latency.rounds == 7  # file beats profile
    assert cfg.latency.warmup == 2  # quick profile value
    assert cfg.matrix.backend == ("torch",)


def test_profile_from_overrides_beats_file(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", 'profile = "full"\n')
    assert _load(tmp_path, overrides={"profile": "quick"}).profile == "quick"
    assert _load(tmp_path).profile == "full"


def test_override_paths_are_relative_to_rootdir(tmp_path: Path) -> None:
    _write(tmp_path / "sub" / "harness.toml", 'reports_dir = "r"\n')
    cfg = _load(tmp_path, path=Path("sub/harness.toml"), overrides={"baselines_dir": "b"})
    assert cfg.reports_dir == tmp_path / "sub" / "r"
    assert cfg.baselines_dir == tmp_path / "b"


def test_file_models_replace_profile_models(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", """
        [[models]]
        name = "a"
        cfg = "yolov8n.yaml"
        train = {epochs = 2}
    """)  # fmt: skip
    cfg = _load(tmp_path, profile="full")
    assert [(m.name, m.epochs, m.batch) for m in cfg.models] == [("a", 2, 8)]
    # the profile's students that name its own models (yolo11n from yolo11s) are dropped; the
    # one for every model stays
    assert [(s.model, s.prune, s.teachers) for s in cfg.distill.students] == [(None, 0.3, None)]
    assert cfg.model("a").cfg == "yolov8n.yaml"
    with pytest.raises(KeyError, match="no model named 'b'"):
        cfg.model("b")


def test_budgets_come_from_the_file(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", """
        [tool.harness.budgets]
        max_map_drop = 0.02
        min_speedup = { fp16 = 1.2 }
        [tool.harness.budgets.variants."yolo11n-p00-fp16-onnxruntime"]
        max_baseline_drop = 0.05
    """)  # fmt: skip
    budgets = _load(tmp_path).budgets
    assert budgets.for_variant("yolo11n-p00-fp32-torch", "fp32") == Budget(max_map_drop=0.02)
    special = budgets.for_variant("yolo11n-p00-fp16-onnxruntime", "fp16")
    assert (special.min_speedup, special.max_baseline_drop) == (1.2, 0.05)


def test_known_backends_parameter_is_used(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", '[matrix]\nbackend = ["mybackend"]\n')
    assert load_config(tmp_path, known_backends=["mybackend"]).matrix.backend == ("mybackend",)
    with pytest.raises(ConfigError, match="unknown value 'mybackend'"):
        load_config(tmp_path, known_backends=BACKENDS)


def test_default_known_backends_needs_no_backend_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names come from harness.config.backends: the backends package is never imported."""
    monkeypatch.setitem(sys.modules, "harness.backends", None)
    monkeypatch.setitem(sys.modules, "harness.backends.registry", None)
    assert default_known_backends() == backend_table.known_backends()
    assert set(FALLBACK_BACKENDS) <= set(default_known_backends())


def test_default_known_backends_uses_the_backend_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_table, "_REGISTRY", {"torch": "m:T", "ncnn": "m:N"})
    assert default_known_backends() == ("torch", "ncnn")
    assert known_backends() == ("torch", "ncnn")  # the registry reads the same table


def test_threads_default_to_cpu_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader.os, "cpu_count", lambda: 7)
    assert _load(tmp_path).threads == 7


# --- errors ---------------------------------------------------------------------------

ERRORS = [
    ("[tool.harness.matrx]\nprune = [0.0]",
     r"^unknown key 'tool\.harness\.matrx' in pyproject\.toml; did you mean 'matrix'\?$"),
    ("[tool.harness]\nimgsz = '320'",
     r"^tool\.harness\.imgsz in pyproject\.toml: expected an integer >= 32, got '320' \(str\)$"),
    ("[tool.harness]\nimgsz = 100", r"tool\.harness\.imgsz .*expected a multiple of 32"),
    ("[tool.harness]\nthreads = true", r"tool\.harness\.threads .*expected an integer >= 1"),
    ("[tool.harness]\nseed = -1", r"tool\.harness\.seed .*expected an integer >= 0"),
    ("[tool.harness]\ndevice = 'gpu'", r"tool\.harness\.device .*'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("[tool.harness]\nprofile = 'quik'", r"tool\.harness\.profile .*did you mean 'quick'\?"),
    ("[tool.harness]\nprofile = 3", r"tool\.harness\.profile .*expected a non-empty string"),
    ("[tool.harness]\ndata = 'missing.yaml'", r"tool\.harness\.data in pyproject\.toml: file not found: .*missing\.yaml"),
    ("[tool.harness]\ncache_dir = 5", r"tool\.harness\.cache_dir .*expected a non-empty string"),
    ("[tool.harness]\nmatrix = 'x'", r"tool\.harness\.matrix in pyproject\.toml: expected a table"),
    ("[tool.harness.matrix]\nbackend = ['onnxruntim']",
     r"tool\.harness\.matrix\.backend\[0\] .*unknown value 'onnxruntim'.*did you mean 'onnxruntime'\?"),
    ("[tool.harness.matrix]\nbackend = 'torch'", r"tool\.harness\.matrix\.backend .*expected a list"),
    ("[tool.harness.matrix]\nbackend = []", r"tool\.harness\.matrix\.backend .*expected a non-empty list"),
    ("[tool.harness.matrix]\nprecision = ['fp8']", r"matrix\.precision\[0\] .*unknown value 'fp8'"),
    ("[tool.harness.matrix]\nprecision = ['fp32', 'fp32']", r"matrix\.precision .*'fp32' is listed twice"),
    ("[tool.harness.matrix]\nprune = [0.0, 1.0]", r"matrix\.prune\[1\] .*expected a number in \[0\.0, 1\.0\)"),
    ("[tool.harness.matrix]\nprune = [-0.1]", r"matrix\.prune\[0\] "),
    ("[tool.harness.matrix]\nprunes = [0.0]", r"'tool\.harness\.matrix\.prunes'.*did you mean 'prune'\?"),
    ("[tool.harness.latency]\nrounds = 0", r"tool\.harness\.latency\.rounds .*expected an integer >= 1"),
    ("[tool.harness.latency]\nwarmups = 1", r"'tool\.harness\.latency\.warmups'.*did you mean 'warmup'\?"),
    ("[tool.harness.dataset]\nn_val = 0", r"tool\.harness\.dataset\.n_val .*expected an integer >= 1"),
    ("[tool.harness.train]\nepoch = 1", r"'tool\.harness\.train\.epoch'.*did you mean 'epochs'\?"),
    ("[tool.harness]\nmodels = []", r"tool\.harness\.models .*expected a non-empty list of tables"),
    ("[tool.harness]\nmodels = ['yolo11n']", r"tool\.harness\.models\[0\] in pyproject\.toml: expected a table"),
    ("[[tool.harness.models]]\nname = 'a'\nwieghts = 'x.pt'",
     r"^unknown key 'tool\.harness\.models\[0\]\.wieghts' in pyproject\.toml; did you mean 'weights'\?$"),
    ("[[tool.harness.models]]\nname = 'a'", r"tool\.harness\.models\[0\] .*set exactly one of 'weights' or 'cfg'"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\nweights = 'a.pt'", r"exactly one of"),
    ("[[tool.harness.models]]\ncfg = 'a.yaml'", r"tool\.harness\.models\[0\]\.name .*non-empty string"),
    ("[[tool.harness.models]]\nname = 'a b'\ncfg = 'a.yaml'", r"models\[0\]\.name .*letters, digits"),
    ("[[tool.harness.models]]\nname = 'a'\nweights = 'nope.pt'", r"models\[0\]\.weights .*file not found"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\ntrain = {epochs = 0}",
     r"tool\.harness\.models\[0\]\.train\.epochs .*expected an integer >= 1"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\ntrain = {batchsize = 2}",
     r"'tool\.harness\.models\[0\]\.train\.batchsize'.*did you mean 'batch'\?"),
    ("[tool.harness.train]\nwarmup_epoch = 1",
     r"^unknown key 'tool\.harness\.train\.warmup_epoch' in pyproject\.toml; did you mean 'warmup_epochs'\?$"),
    ("[tool.harness.train]\nlr0 = 'high'",
     r"^tool\.harness\.train\.lr0 in pyproject\.toml: expected a number \(Ultralytics' type for 'lr0'\), got 'high'"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\ntrain = {workers = 8}",
     r"^tool\.harness\.models\[0\]\.train\.workers in pyproject\.toml: refused, the harness sets 'workers' itself"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\ntrain = {cos_lr = 'yes'}",
     r"^tool\.harness\.models\[0\]\.train\.cos_lr in pyproject\.toml: expected true or false"),
    ("[[tool.harness.models]]\nname = 'a'\ncfg = 'a.yaml'\n[[tool.harness.models]]\nname = 'a'\ncfg = 'b.yaml'",
     r"tool\.harness\.models\[1\]\.name .*duplicate model name 'a'"),
    ("[tool.harness.budgets]\nmax_map_drp = 0.1",
     r"^unknown key 'tool\.harness\.budgets\.max_map_drp' in pyproject\.toml; did you mean 'max_map_drop'\?$"),
    ("[tool.harness.budgets.precision.fp61]\nmin_speedup = 1.2", r"budgets\.precision\.fp61 .*did you mean 'fp16'"),
    ("[tool.harness]\ntool = 1", r"unknown key 'tool\.harness\.tool'"),
    ("tool = 3", r"tool in pyproject\.toml: expected a table"),
    ("[tool]\nharness = 3", r"tool\.harness in pyproject\.toml: expected a table"),
    ("[tool.harness\nx = 1", r"invalid TOML in .*pyproject\.toml"),
]  # fmt: skip


@pytest.mark.parametrize("body, message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_name_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path / "pyproject.toml", body + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, path=tmp_path / "pyproject.toml", known_backends=BACKENDS)


def test_harness_toml_errors_have_no_prefix(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", "imgszz = 320\n")
    with pytest.raises(ConfigError, match=r"^unknown key 'imgszz' in harness\.toml; did you mean 'imgsz'\?$"):
        _load(tmp_path)


def test_override_errors_name_the_overrides(tmp_path: Path) -> None:
    _write(tmp_path / "harness.toml", "imgsz = 96\n")
    with pytest.raises(ConfigError, match=r"^imgsz in command-line overrides: expected an integer"):
        _load(tmp_path, overrides={"imgsz": "x"})
    with pytest.raises(ConfigError, match=r"unknown key 'matrix\.backends' in --harness-set"):
        _load(tmp_path, overrides={"matrix": {"backends": []}}, overrides_source="--harness-set")


def test_profile_argument_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'full'\?"):
        _load(tmp_path, profile="ful")


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").mkdir()
    with pytest.raises(ConfigError, match="harness.toml"):
        _load(tmp_path, path=tmp_path / "harness.toml")


def test_train_tables_take_ultralytics_arguments(tmp_path: Path) -> None:
    """Ultralytics arguments pass through the top-level ``[train]`` and each model's ``train``; a
    model's table overrides the top level's key by key; ``train_args`` are sorted by name."""
    _write(tmp_path / "harness.toml", """
        profile = "quick"
        [train]
        optimizer = "SGD"
        lr0 = 0.01
        mosaic = 1.0
        [[models]]
        name = "a"
        cfg = "yolo11n.yaml"
        train = {lr0 = 0.005, box = 7.5, cls = 0.5, epochs = 2, freeze = [0, 1]}
        [[models]]
        name = "b"
        cfg = "yolov8n.yaml"
    """)  # fmt: skip
    a, b = _load(tmp_path).models
    assert a.train_args == (
        ("box", 7.5), ("cls", 0.5), ("freeze", (0, 1)), ("lr0", 0.005), ("mosaic", 1.0), ("optimizer", "SGD"),
    )  # fmt: skip
    assert (a.epochs, a.batch) == (2, 8)  # the harness's own keys stay fields
    assert b.train_args == (("lr0", 0.01), ("mosaic", 1.0), ("optimizer", "SGD"))
    assert hash(a) != hash(b)  # lists are stored as tuples: specs stay hashable
    plain = _load(tmp_path, path=_write(tmp_path / "plain.toml", 'profile = "quick"\n'))
    assert plain.models[0].train_args == ()


# --- dataclass invariants -------------------------------------------------------------


def test_model_spec_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ModelSpec("a", None, None, 1, 1, 32)
    with pytest.raises(ValueError, match="exactly one"):
        ModelSpec("a", Path("a.pt"), "a.yaml", 1, 1, 32)


@pytest.mark.parametrize(
    "prune, precision, backend",
    [((), ("fp32",), ("torch",)), ((1.0,), ("fp32",), ("torch",)),
     ((0.0,), ("int3",), ("torch",)), ((0.0,), ("fp32",), ("torch", "torch"))],
)  # fmt: skip
def test_matrix_spec_invariants(prune: tuple, precision: tuple, backend: tuple) -> None:
    with pytest.raises(ValueError, match="matrix"):
        MatrixSpec(prune, precision, backend)


def _int8_matrix(root: Path, backends: list[str], *quant_tables: str) -> Path:
    """A quick-profile config whose matrix is INT8 on ``backends`` with these quant tables."""
    tables = "".join(f"[[matrix.quant]]\n{table}\n" for table in quant_tables)
    body = f'profile = "quick"\n[matrix]\nprune = [0.0]\nprecision = ["int8"]\nbackend = {backends}\n{tables}'
    return _write(root / "harness.toml", body.replace("'", '"'))


def test_quant_entries_can_name_their_backends(tmp_path: Path) -> None:
    _int8_matrix(
        tmp_path, ["onnxruntime", "openvino"], "backends = ['onnxruntime']", "activations = 's8'\nops = 'all'"
    )
    matrix = load_config(tmp_path).matrix
    assert [q.slug for q in matrix.quant_for("onnxruntime")] == [
        "qdq-pc-u8s8-minmax-c100",
        "qdq-pc-s8s8-minmax-c100",
    ]
    assert [q.slug for q in matrix.quant_for("openvino")] == ["qdq-pc-s8s8-minmax-c100"]


@pytest.mark.parametrize(
    "quant, message",
    [
        ("backends = ['onnxrt']", r"matrix\.quant\[0\]\.backends\[0\].*did you mean 'onnxruntime'"),
        ("ops = 'matmul'", r"matrix\.quant\[0\]\.ops.*unknown value 'matmul'"),
        ("backends = []", r"matrix\.quant\[0\]\.backends.*non-empty list"),
    ],
)
def test_bad_quant_backends_or_ops(tmp_path: Path, quant: str, message: str) -> None:
    _int8_matrix(tmp_path, ["onnxruntime"], quant)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_same_quant_settings_twice_is_an_error(tmp_path: Path) -> None:
    _int8_matrix(tmp_path, ["onnxruntime", "ncnn"], "backends = ['onnxruntime']", "backends = ['ncnn']")
    with pytest.raises(ConfigError, match=r"matrix\.quant\[1\] .* repeats quant\[0\]'s settings; merge"):
        load_config(tmp_path)


def test_mixed_precision_table(tmp_path: Path) -> None:
    assert _load(tmp_path, profile="quick").mixed_precision is None
    assert _load(tmp_path).mixed_precision == config_module.MixedPrecisionSpec(0.5, 8, 64)
    assert _load(tmp_path, profile="full").mixed_precision == config_module.MixedPrecisionSpec(0.5, 12, 128)
    _write(tmp_path / "harness.toml", 'profile = "quick"\n[mixed_precision]\nrecover = 0.8\nmax_steps = 3\n')
    assert load_config(tmp_path).mixed_precision == config_module.MixedPrecisionSpec(0.8, 3, 64)


@pytest.mark.parametrize(
    "body, message",
    [
        ("recover = 0", r"mixed_precision\.recover .*expected a fraction in \(0, 1\]"),
        ("recover = 1.5", r"mixed_precision\.recover .*expected a fraction in \(0, 1\]"),
        ("max_steps = 0", r"mixed_precision\.max_steps"),
        ("max_step = 3", r"unknown key 'mixed_precision\.max_step'.*did you mean 'max_steps'"),
    ],
)
def test_bad_mixed_precision_table(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path / "harness.toml", f'profile = "quick"\n[mixed_precision]\n{body}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_verdicts_table_defaults_and_errors(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, profile="quick")
    assert cfg.verdicts.latency_confidence == 0.99 and cfg.verdicts.inconclusive == "pass"
    path = tmp_path / "harness.toml"
    path.write_text('[verdicts]\ninconclusive = "fial"\n')
    with pytest.raises(ConfigError, match=r"verdicts\.inconclusive.*harness\.toml"):
        load_config(tmp_path, path=path, profile="quick")
    path.write_text("[verdicts]\nlatency_confidence = 1.0\n")
    with pytest.raises(ConfigError, match="latency_confidence"):
        load_config(tmp_path, path=path, profile="quick")
    path.write_text('[verdicts]\ninconclusive = "fail"\naccuracy_resamples = 200\n')
    strict = load_config(tmp_path, path=path, profile="quick").verdicts
    assert strict.inconclusive_fails and strict.accuracy_resamples == 200


# --- a user's own models: the studies the config names, pinned weights ---------------------


def _user_models(root: Path, extra: str = "") -> None:
    (root / "w.pt").write_bytes(b"not loaded while parsing")
    _write(root / "harness.toml", f"""
        [[models]]
        name = "mine"
        weights = "w.pt"
        {extra}
    """)  # fmt: skip


def test_own_models_run_the_matrix_without_the_profiles_training_studies(tmp_path: Path) -> None:
    _user_models(tmp_path)
    cfg = _load(tmp_path)
    assert cfg.profile == "default" and cfg.matrix.prune == (0.0,)
    assert cfg.distill.students == () and cfg.distill.bars == ()
    assert cfg.pruning.bars == () and cfg.mixed_precision is None
    assert cfg.ablation.multi_scale == 0.0
    assert cfg.budgets.pruned.max_map_drop is None  # the profile's pruned budget was tuned on yolo11n
    assert cfg.matrix.precision == ("fp32", "fp16", "int8")  # the precision x backend matrix stays


def test_own_models_get_a_study_when_the_config_names_it(tmp_path: Path) -> None:
    _write(tmp_path / "w.pt", "x")
    _write(tmp_path / "harness.toml", """
        [[models]]
        name = "mine"
        weights = "w.pt"
        [matrix]
        prune = [0.0, 0.3]
        [mixed_precision]
        recover = 0.5
        [distill]
        students = [{prune = 0.3}]
        [ablation]
        multi_scale = 0.5
    """)  # fmt: skip
    cfg = _load(tmp_path)
    assert cfg.matrix.prune == (0.0, 0.3) and cfg.mixed_precision is not None
    assert len(cfg.distill.students) == 1 and cfg.ablation.multi_scale == 0.5
    assert cfg.distill.epochs == profile_defaults("default")["distill"]["epochs"]  # type: ignore[index]


def test_an_explicit_profile_brings_its_studies_to_own_models(tmp_path: Path) -> None:
    _user_models(tmp_path)
    assert _load(tmp_path, profile="default").matrix.prune == (0.0, 0.3)
    (tmp_path / "harness.toml").write_text('profile = "default"\n' + (tmp_path / "harness.toml").read_text())
    cfg = _load(tmp_path)
    assert cfg.matrix.prune == (0.0, 0.3) and cfg.mixed_precision is not None


def test_weights_sha256_pins_the_file(tmp_path: Path) -> None:
    digest = "ab" * 32
    _user_models(tmp_path, f'weights_sha256 = "{digest.upper()}"')
    assert _load(tmp_path).model("mine").weights_sha256 == digest


@pytest.mark.parametrize(
    "line, message",
    [
        (
            'weights_sha256 = "abc"',
            r"models\[0\]\.weights_sha256 in harness\.toml: expected the file's sha256",
        ),
        ("weights_sha256 = 5", r"models\[0\]\.weights_sha256 in harness\.toml: expected a non-empty string"),
    ],
)
def test_bad_weights_sha256_is_a_config_error(tmp_path: Path, line: str, message: str) -> None:
    _user_models(tmp_path, line)
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path)
