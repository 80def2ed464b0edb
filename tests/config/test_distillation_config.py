"""The ``[distill]`` table: defaults, a full round trip, bar matching, teacher paths and every error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.config.distillation import (
    DistillBar,
    DistillConfig,
    MethodLoss,
    StudentChoice,
    is_teacher_path,
)
from harness.errors import ConfigError

TWO_MODELS = (
    '[[models]]\nname = "yolo11n"\ncfg = "yolo11n.yaml"\n[[models]]\nname = "yolo11s"\ncfg = "yolo11s.yaml"\n'
)


def _load(root: Path, distill: str, head: str = "", name: str = "harness.toml") -> HarnessConfig:
    """A quick-profile config whose ``[distill]`` table is ``distill`` (after ``head``)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'profile = "quick"\n{head}\n[distill]\n{distill}\n')
    return load_config(root, path=path if name != "harness.toml" else None)


# --- defaults and a full table --------------------------------------------------------


def test_empty_table_means_no_students(tmp_path: Path) -> None:
    """An empty ``[distill]`` (and no table at all) gives the defaults: nothing to distil."""
    config = _load(tmp_path, "")
    assert config.distill == DistillConfig()
    assert config.distill.students == ()
    assert config.distill.teachers == ("reference",) and config.distill.methods == ("response",)
    assert (config.distill.epochs, config.distill.backends) == (4, ("torch",))
    assert config.distill.losses["response"] == MethodLoss(1.0, 2.0)
    assert config.distill.losses["feature"] == MethodLoss(1.0, 1.0)
    assert config.distill.losses["cwd"] == MethodLoss(3.0, 4.0)
    (tmp_path / "harness.toml").write_text('profile = "quick"\n')
    assert load_config(tmp_path).distill == DistillConfig()


def test_default_profile_distils_the_pruned_yolo11n(tmp_path: Path) -> None:
    """The default profile's table: response KD of every model at 30 % from its reference."""
    distill = load_config(tmp_path).distill
    assert distill.students == (StudentChoice(None, 0.3),)
    assert (distill.teachers, distill.methods, distill.epochs) == (("reference",), ("response",), 4)
    bar = distill.bar_for("yolo11n", "reference", "response", True)
    assert (bar.min_gain, bar.max_reference_drop) == (0.01, 0.01)


def test_full_table_round_trips(tmp_path: Path) -> None:
    """Every key of the table reaches DistillConfig; unset loss keys keep their defaults."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "big.pt").write_bytes(b"")
    config = _load(
        tmp_path,
        'students = [{model = "yolo11n", prune = 0.3},\n'
        '  {model = "yolo11s", teachers = ["t/big.pt", "yolo11n"]}]\n'
        'teachers = ["reference", "yolo11s", "t/big.pt"]\n'
        'methods = ["response", "feature", "cwd"]\n'
        "epochs = 4\n"
        'backends = ["onnxruntime", "torch"]\n'
        "max_epoch_ratio = 3.5\n"
        "min_gain = 0.005\n"
        "response = {weight = 0.5, temperature = 3.0}\n"
        "feature = {weight = 2}\n"
        "cwd = {temperature = 2.0}\n"
        'bars = [{student = "yolo11n", teacher = "yolo11s", method = "cwd", pruned = false, min_gain = 0.02,'
        " max_reference_drop = 0.03}]\n",
        head=TWO_MODELS,
    )
    kd = config.distill
    assert kd.students == (
        StudentChoice("yolo11n", 0.3),
        StudentChoice("yolo11s", 0.0, (tmp_path / "t" / "big.pt", "yolo11n")),
    )
    assert kd.teachers == ("reference", "yolo11s", tmp_path / "t" / "big.pt")
    assert kd.methods == ("response", "feature", "cwd")
    assert (kd.epochs, kd.backends) == (4, ("onnxruntime", "torch"))
    assert (kd.max_epoch_ratio, kd.min_gain) == (3.5, 0.005)
    assert kd.losses == {
        "response": MethodLoss(0.5, 3.0),
        "feature": MethodLoss(2.0, 1.0),
        "cwd": MethodLoss(3.0, 2.0),
        "attention": MethodLoss(500.0, 1.0),
        "relational": MethodLoss(2.0, 1.0),
        "multi": MethodLoss(1.0, 2.0),
        "progressive": MethodLoss(1.0, 2.0),
    }
    assert kd.bars == (DistillBar("yolo11n", "yolo11s", "cwd", False, 0.02, 0.03),)


def test_config_with_a_distill_table_stays_hashable(tmp_path: Path) -> None:
    """HarnessConfig is frozen and hashable; the distill table must not break that."""
    body = 'students = [{model = "yolo11n"}]\nresponse = {weight = 2.0}\n'
    config, again = _load(tmp_path, body), _load(tmp_path, body)
    assert hash(config.distill) == hash(again.distill)
    assert hash(config) == hash(again)


# --- bars -----------------------------------------------------------------------------


def test_bar_selectors_match_absent_keys_as_wildcards() -> None:
    """A bar matches a case when every selector it sets equals the case's."""
    assert DistillBar().matches("yolo11n", "reference", "response", True)
    assert DistillBar(pruned=True).matches("m", "t", "cwd", True)
    assert not DistillBar(pruned=False).matches("m", "t", "cwd", True)
    assert DistillBar(student="m", method="cwd").matches("m", "x", "cwd", False)
    assert not DistillBar(student="m", method="cwd").matches("m", "x", "response", False)
    assert not DistillBar(teacher="reference").matches("m", "yolo11s", "response", False)


def test_bar_for_takes_the_first_match_else_the_table_min_gain(tmp_path: Path) -> None:
    """Bars are tried in order; with none matching, the fallback bar holds only ``min_gain``."""
    kd = _load(
        tmp_path,
        "min_gain = 0.003\nbars = [\n"
        '  {student = "yolo11n", method = "cwd", min_gain = 0.02},\n'
        "  {pruned = true, min_gain = 0.01, max_reference_drop = 0.01},\n"
        '  {teacher = "reference", min_gain = 0.0},\n]\n',
    ).distill
    assert kd.bar_for("yolo11n", "reference", "cwd", True) == kd.bars[0]
    assert kd.bar_for("yolo11n", "reference", "response", True) == kd.bars[1]  # the third matches too
    assert kd.bar_for("yolo11n", "reference", "response", False) == kd.bars[2]
    fallback = kd.bar_for("yolo11n", "big", "response", False)
    assert fallback == DistillBar(min_gain=0.003) and fallback.max_reference_drop is None


# --- teachers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "is_path"),
    [("reference", False), ("yolo11s", False), ("best.pt", True), ("w/best", True), ("w\\best", True)],
)
def test_teacher_entries_that_name_files(text: str, is_path: bool) -> None:
    """Entries ending in .pt or holding a path separator are files; anything else is a name."""
    assert is_teacher_path(text) is is_path


def test_relative_teacher_path_resolves_against_the_config_directory(tmp_path: Path) -> None:
    """``teachers`` paths are relative to the config file, not to the rootdir or the cwd."""
    conf = tmp_path / "conf"
    (conf / "w").mkdir(parents=True)
    (conf / "w" / "teacher.pt").write_bytes(b"")
    body = (
        'teachers = ["w/teacher.pt", "reference"]\n'
        'students = [{model = "yolo11n", teachers = ["./w/teacher.pt"]}]\n'
    )
    config = _load(tmp_path, body, name="conf/bench.toml")
    assert config.distill.teachers == (conf / "w" / "teacher.pt", "reference")
    assert config.distill.teachers[0].is_absolute()  # type: ignore[union-attr]
    assert config.distill.students[0].teachers == (conf / "w" / "teacher.pt",)


def test_teacher_paths_in_overrides_resolve_against_the_rootdir(tmp_path: Path) -> None:
    """A teacher path given as an override is relative to the rootdir."""
    (tmp_path / "teacher.pt").write_bytes(b"")
    (tmp_path / "harness.toml").write_text('profile = "quick"\n')
    config = load_config(tmp_path, overrides={"distill": {"teachers": ["teacher.pt"]}})
    assert config.distill.teachers == (tmp_path / "teacher.pt",)


# --- errors ---------------------------------------------------------------------------

ERRORS = [
    ('methods = ["response", "respnse"]',
     r"^distill\.methods\[1\] in harness\.toml: unknown value 'respnse' .*did you mean 'response'\?$"),
    ('teachers = ["reference", "gone/teacher.pt"]',
     (r"^distill\.teachers\[1\] in harness\.toml: expected an existing teacher \.pt file, "
      r"got '.*gone/teacher\.pt \(file not found\)'")),
    ('teachers = ["missing.pt"]',
     r"^distill\.teachers\[0\] in harness\.toml: .*missing\.pt \(file not found\)"),
    ('teachers = ["refrence"]',
     (r"^distill\.teachers\[0\] in harness\.toml: expected 'reference', a model name \(yolo11n\) or a path "
      r"to a \.pt file; did you mean 'reference'\?, got 'refrence'")),
    ('teachers = ["yolo99x"]', r"^distill\.teachers\[0\] in harness\.toml: .*got 'yolo99x'"),
    ('students = [{model = "yolo11s", prune = 0.3}]',
     (r"^distill\.students\[0\]\.model in harness\.toml: unknown value 'yolo11s' "
      r"\(expected one of: yolo11n\)")),
    ('students = [{model = "yolo11n", prune = 1.0}]', r"^distill\.students\[0\]\.prune in harness\.toml"),
    ('students = [{model = "yolo11n", ratio = 0.3}]',
     r"^unknown key 'distill\.students\[0\]\.ratio' in harness\.toml"),
    ('students = [{model = "yolo11n", teachers = ["reference", "yolo11m"]}]',
     r"^distill\.students\[0\]\.teachers\[1\] in harness\.toml: expected 'reference', a model name"),
    ('students = [{model = "yolo11n", teachers = ["t/none.pt"]}]',
     r"^distill\.students\[0\]\.teachers\[0\] in harness\.toml: .*none\.pt \(file not found\)"),
    ('students = [{model = "yolo11n", teachers = "reference"}]',
     r"^distill\.students\[0\]\.teachers in harness\.toml: expected a list"),
    ('students = ["yolo11n"]', r"^distill\.students\[0\] in harness\.toml: expected a table"),
    ("epoch = 3", r"^unknown key 'distill\.epoch' in harness\.toml; did you mean 'epochs'\?$"),
    ("epochs = 0", r"^distill\.epochs in harness\.toml: expected an integer >= 1"),
    ('backends = ["onnxruntim"]',
     r"^distill\.backends\[0\] in harness\.toml: .*did you mean 'onnxruntime'\?$"),
    ("response = {weight = -1.0}", r"^distill\.response\.weight in harness\.toml: expected a number"),
    ("feature = {temperature = 2.0}", r"^unknown key 'distill\.feature\.temperature' in harness\.toml"),
    ('bars = [{pruned = "yes"}]',
     r"^distill\.bars\[0\]\.pruned in harness\.toml: expected true or false, got 'yes' \(str\)$"),
    ("bars = [{pruned = 1}]",
     r"^distill\.bars\[0\]\.pruned in harness\.toml: expected true or false, got 1 \(int\)$"),
    ('bars = [{method = "kd"}]', r"^distill\.bars\[0\]\.method in harness\.toml: unknown value 'kd'"),
    ("bars = [{gain = 0.1}]", r"^unknown key 'distill\.bars\[0\]\.gain' in harness\.toml"),
    ('students = {model = "yolo11n"}', r"^distill\.students in harness\.toml: expected a list"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_bad_distill_table_names_the_key_and_file(tmp_path: Path, body: str, message: str) -> None:
    """Each bad entry is a ConfigError naming the dotted key and harness.toml."""
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, body)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("response = {weight = 0}", "response.weight"),
        ("cwd = {weight = 0.0, temperature = 3.0}", "cwd.weight"),
        ("feature = {weight = 0}", "feature.weight"),
        ("response = {temperature = 0}", "response.temperature"),
        ("cwd = {weight = 2.0, temperature = 0.0}", "cwd.temperature"),
    ],
    ids=["response.weight", "cwd.weight", "feature.weight", "response.temperature", "cwd.temperature"],
)
def test_non_positive_weight_or_temperature_names_the_key_and_value(
    tmp_path: Path, body: str, key: str
) -> None:
    """A zero weight or temperature is rejected, naming that key and the zero it got."""
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, body)
    message = str(info.value)
    assert message.startswith(f"distill.{key} in harness.toml: expected a number > 0")
    assert re.search(r"got 0(\.0)? \((int|float)\)$", message), message


def test_teacher_file_that_exists_is_accepted_as_a_path(tmp_path: Path) -> None:
    """An existing file is kept as a Path, not checked against the model names."""
    (tmp_path / "best.pt").write_bytes(b"")
    config = _load(tmp_path, 'teachers = ["best.pt"]\n')
    assert config.distill.teachers == (tmp_path / "best.pt",)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('students = [{model = "yolo11n"}]\nmethods = ["response", "response"]', "methods"),
        ('students = [{model = "yolo11n", prune = 0.3}]\nteachers = ["reference", "reference"]', "teachers"),
        ('students = [{model = "yolo11n", prune = 0.3}, {model = "yolo11n", prune = 0.3}]', "students"),
        ('students = [{model = "yolo11n"}]\nbackends = ["torch", "torch"]', "backends"),
    ],
    ids=["methods", "teachers", "students", "backends"],
)
def test_repeated_entries_are_rejected(tmp_path: Path, body: str, key: str) -> None:
    """A repeated student, teacher, method or backend would give variants with the same id twice."""
    with pytest.raises(ConfigError, match=rf"distill\.{key}"):
        _load(tmp_path, body)
