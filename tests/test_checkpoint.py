"""Loading a checkpoint never runs code from it, and anything wrong with one is one clear line."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run, scale_corpus, tiny

from generator import checkpoint

TINY = tiny(units=8, embed_dim=4, epochs=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny midi run, copied afresh for each test that spoils it."""
    root = tmp_path_factory.mktemp("ckpt")
    corpus = scale_corpus(root / "midi", files=4)
    result = run("train", "--path", corpus, "--checkpoint-dir", root, "--run", "good", *TINY)
    assert result.exit_code == 0, result.output
    return root / "good"


@pytest.fixture
def spoilt(trained, tmp_path):
    """A copy of the trained run to damage."""
    return shutil.copytree(trained, tmp_path / "run")


def sample_error(run_dir) -> str:
    result = run("sample", "--checkpoint", run_dir, "--out", "x.mid", "--length", 5)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def edit_config(run_dir, change) -> None:
    path = run_dir / checkpoint.CONFIG
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_the_trained_run_samples(trained):
    assert run("sample", "--checkpoint", trained, "--out", "x.mid", "--length", 5).exit_code == 0


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "vocab.json").unlink(), "is incomplete: vocab.json is missing"),
        (lambda d: (d / "config.json").write_text("{"), "has a corrupt config.json"),
        (
            lambda d: edit_config(d, lambda c: c.update(format="gen-checkpoint/9")),
            "is not a gen checkpoint of format gen-checkpoint/1 (found 'gen-checkpoint/9')",
        ),
        (
            lambda d: edit_config(d, lambda c: c["corpus"].update(name="words")),
            "was written by corpus plugin 'words', which this gen cannot load",
        ),
        (
            lambda d: edit_config(d, lambda c: c["corpus"].update(version="0")),
            "was written by corpus 'midi' version 0 with other settings",
        ),
        (
            lambda d: edit_config(d, lambda c: c["model"].update(units=9)),
            "weights in",
        ),
        (
            lambda d: [(d / w).write_bytes(b"\x89HDF\r\n") for w in checkpoint.WEIGHTS.values()],
            "weights in",
        ),
        (
            lambda d: [(d / w).unlink() for w in checkpoint.WEIGHTS.values()],
            "has no weights (best.weights.h5)",
        ),
        (
            lambda d: (d / "vocab.json").write_text('{"format": "gen-vocab/1", "tokens": ["a"]}'),
            "vocab.json does not match the model's vocab size",
        ),
        (
            lambda d: edit_config(d, lambda c: c.update(note_seconds=-1)),
            "has a corrupt config.json: 'note_seconds' is -1",
        ),
    ],
    ids=[
        "incomplete",
        "corrupt-json",
        "other-version",
        "plugin-gone",
        "plugin-version",
        "shape",
        "bad-weights",
        "no-weights",
        "vocab",
        "note-limit",
    ],
)
def test_a_broken_checkpoint_is_one_clear_line(spoilt, damage, message):
    damage(spoilt)
    assert message in sample_error(spoilt)


def test_a_model_config_cannot_add_anything(spoilt):
    def add_layer(config):  # what a Keras model config would carry: a layer with code
        config["model"]["layers_config"] = [{"class_name": "Lambda", "config": {"function": "x"}}]

    edit_config(spoilt, add_layer)
    assert "unknown model settings ['layers_config']" in sample_error(spoilt)


def test_weights_that_carry_code_are_refused_and_never_run(spoilt, tmp_path):
    """A whole Keras model with a Lambda layer, saved where the weights belong, in both of
    Keras' formats: gen only ever reads arrays, so the Lambda's code never runs."""
    import keras

    marker = tmp_path / "ran"
    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]"
    ids = keras.Input(shape=(None,), dtype="int32")
    hostile = keras.Model(ids, keras.layers.Lambda(eval(code))(ids))
    hostile.save(tmp_path / "hostile.keras")  # the function's bytecode travels in the archive
    marker.unlink(missing_ok=True)  # building the model ran it once here, in the test
    for name in checkpoint.WEIGHTS.values():
        shutil.copy(tmp_path / "hostile.keras", spoilt / name)
    assert "weights in" in sample_error(spoilt)
    hostile.save_weights(tmp_path / "hostile.weights.h5")
    for name in checkpoint.WEIGHTS.values():
        shutil.copy(tmp_path / "hostile.weights.h5", spoilt / name)
    assert "do not fit its config" in sample_error(spoilt)
    with pytest.raises(ValueError, match="safe_mode"):  # Keras itself would refuse too
        keras.saving.load_model(tmp_path / "hostile.keras")
    assert not marker.exists()


def test_a_folder_that_is_no_checkpoint(tmp_path):
    (tmp_path / "file").write_text("")
    assert "is not a folder" in sample_error(tmp_path / "file")
    assert "is incomplete: config.json is missing" in sample_error(tmp_path)


def test_a_run_stored_before_the_learning_rate_floor_keeps_the_floor_it_trained_with():
    from generator.config import TrainConfig

    stored = TrainConfig().to_dict()
    assert stored["lr_floor"] == 0.4
    del stored["lr_floor"]  # as runs made before the setting stored it
    assert TrainConfig.from_dict(stored).lr_floor == 0.05  # so --resume goes on exactly
    assert TrainConfig.from_dict(TrainConfig(lr_floor=0.2).to_dict()).lr_floor == 0.2


def test_a_run_stored_before_weight_averaging_resumes_without_it():
    from generator.config import TrainConfig

    stored = TrainConfig().to_dict()
    assert stored["ema"] == 0.99
    del stored["ema"]  # as runs made before the setting stored it
    assert TrainConfig.from_dict(stored).ema == 0.0  # they validated the trained weights


def test_a_run_stored_before_the_adam_setting_resumes_with_the_one_it_trained_with():
    from generator.averaging import adam
    from generator.config import TrainConfig

    stored = TrainConfig().to_dict()
    assert adam(1e-3, TrainConfig.from_dict(stored)).beta_2 == 0.95
    del stored["adam_beta2"]  # as runs made before the setting stored it
    assert adam(1e-3, TrainConfig.from_dict(stored)).beta_2 == 0.999  # Keras' default


def test_a_run_stored_before_weight_decay_resumes_without_it():
    from generator.averaging import adam
    from generator.config import TrainConfig

    stored = TrainConfig().to_dict()
    assert adam(1e-3, TrainConfig.from_dict(stored)).weight_decay == 0.3
    del stored["weight_decay"]  # as runs made before the setting stored it
    assert adam(1e-3, TrainConfig.from_dict(stored)).weight_decay is None


def _rate_at(config, step: int) -> float:
    """The learning rate `fitting.compile_model` gives at `step` of a 1,000-step run."""
    import keras

    from generator.fitting import compile_model

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    compile_model(model, config, total_steps=1000)
    model.optimizer.iterations.assign(step)
    return float(model.optimizer.learning_rate)


def test_the_rate_warms_up_over_20_steps_and_runs_stored_before_over_100():
    from generator.config import TrainConfig

    stored = TrainConfig(learning_rate=0.01).to_dict()
    new = TrainConfig.from_dict(stored)
    assert _rate_at(new, 10) == pytest.approx(0.005)
    assert _rate_at(new, 20) == pytest.approx(0.01)
    del stored["warmup_steps"]  # as runs made before the setting stored it
    old = TrainConfig.from_dict(stored)
    assert _rate_at(old, 20) == pytest.approx(0.002)
    assert _rate_at(old, 100) == pytest.approx(0.01)


def test_validation_windows_are_the_training_windows_but_no_shorter_than_128():
    from generator.config import TrainConfig

    short = TrainConfig(seq_len=64).resolved()
    assert (short.seq_len, short.val_len, short.scored_len) == (64, 128, 128)
    assert TrainConfig(seq_len=300).resolved().scored_len == 300
    assert TrainConfig().resolved().scored_len == 128
    stored = TrainConfig(seq_len=32).to_dict()
    del stored["val_len"]  # as runs made before the setting: they validated on their windows
    assert TrainConfig.from_dict(stored).scored_len == 32
