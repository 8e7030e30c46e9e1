"""RunConfig: TOML/JSON round trips, flat keys, and one-line errors that name the key."""

import json

import pytest

import rnnviz
from rnnviz.core.config import FLAT_KEYS, parse_config_text

ConfigError = rnnviz.ConfigError


def _custom():
    return rnnviz.RunConfig().with_overrides(
        cell="lstm", hidden_size=24, num_layers=2, bidirectional=True, init="orthogonal", init_scale=0.9,
        forget_bias=1.0, task="char_lm", seq_len=33, batch_size=5, text="to be or not to be",
        optimizer="rmsprop", lr=0.003, clip="value", clip_value=0.25, tbptt=10, record_every=7, seed=11)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip_through_a_file(tmp_path, suffix):
    cfg = _custom()
    path = tmp_path / f"run{suffix}"
    cfg.save(path)
    if suffix == ".json":
        json.loads(path.read_text())  # really JSON
    back = rnnviz.load_config(path)
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()
    assert (back.model.forget_bias, back.task.text, back.train.clip) == (1.0, "to be or not to be", "value")


def test_to_toml_is_read_back_equal_and_defaults_are_equal():
    assert parse_config_text(rnnviz.RunConfig().to_toml()) == rnnviz.RunConfig()
    cfg = _custom()
    assert parse_config_text(cfg.to_toml()) == cfg


def test_flat_keys_and_sections_mean_the_same():
    flat = parse_config_text('cell = "gru"\nhidden_size = 12\ntask = "copy"\nseq_len = 20\nlr = 0.5\n')
    nested = parse_config_text('[model]\ncell = "gru"\nhidden_size = 12\n[task]\nname = "copy"\nseq_len = 20\n'
                               '[train]\nlr = 0.5\n')
    assert flat == nested
    assert (flat.model.cell, flat.model.hidden_size, flat.task.name, flat.task.seq_len, flat.train.lr) == \
        ("gru", 12, "copy", 20, 0.5)


def test_every_flat_key_is_accepted_by_with_overrides():
    values = {"cell": "lstm", "hidden_size": 3, "num_layers": 2, "bidirectional": True, "activation": "relu",
              "init": "identity", "init_scale": 0.5, "forget_bias": 2.0, "task": "adding", "seq_len": 7,
              "batch_size": 3, "text": "hello", "optimizer": "sgd", "lr": 0.1, "momentum": 0.5, "clip": "norm",
              "clip_norm": 2.0, "clip_value": 3.0, "steps": 9, "tbptt": 4, "record_every": 2}
    assert set(values) == set(FLAT_KEYS)
    cfg = rnnviz.RunConfig().with_overrides(**values)
    for key, value in values.items():
        section, name = FLAT_KEYS[key]
        assert getattr(getattr(cfg, section), name) == value, key


def test_with_overrides_ignores_none_and_seed_reaches_every_section():
    base = rnnviz.RunConfig()
    assert base.with_overrides(cell=None, lr=None) == base
    seeded = base.with_overrides(seed=42)
    assert (seeded.seed, seeded.model.seed, seeded.task.seed, seeded.train.seed) == (42, 42, 42, 42)


@pytest.mark.parametrize("text, key", [
    ('cel = "lstm"', "cel"),
    ('[model]\nhiden_size = 3', "hiden_size"),
    ('[training]\nlr = 0.1', "training"),
])
def test_unknown_keys_are_errors_naming_the_key(text, key):
    with pytest.raises(ConfigError) as err:
        parse_config_text(text)
    assert key in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("flat, key", [
    ({"hidden_size": 0}, "hidden_size"),
    ({"hidden_size": 2.5}, "hidden_size"),
    ({"hidden_size": "big"}, "hidden_size"),
    ({"num_layers": 0}, "num_layers"),
    ({"seq_len": 10**9}, "seq_len"),
    ({"batch_size": 0}, "batch_size"),
    ({"cell": "transformer"}, "cell"),
    ({"activation": "sigmoid"}, "activation"),
    ({"init": "random"}, "init"),
    ({"task": "chess"}, "task"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"lr": 0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"clip": "sometimes"}, "clip"),
    ({"clip_norm": -1}, "clip_norm"),
    ({"bidirectional": "maybe"}, "bidirectional"),
    ({"text": "   "}, "text"),
    ({"device": "tpu"}, "device"),
    ({"steps": -5}, "steps"),
])
def test_bad_values_raise_one_line_naming_the_key(flat, key):
    with pytest.raises(ConfigError) as err:
        rnnviz.RunConfig().with_overrides(**flat)
    msg = str(err.value)
    assert key in msg and "\n" not in msg, msg


def test_malformed_toml_names_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('cell = "lstm"\nhidden_size = 8\nlr = = 3\n')
    with pytest.raises(ConfigError) as err:
        rnnviz.load_config(path)
    msg = str(err.value)
    assert "malformed TOML" in msg and "line 3" in msg and "bad.toml" in msg and "\n" not in msg


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "cell": "lstm",\n  "lr": ,\n}\n')
    with pytest.raises(ConfigError) as err:
        rnnviz.load_config(path)
    assert "malformed JSON" in str(err.value) and "line 3" in str(err.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        rnnviz.load_config(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="bin.toml"):
        rnnviz.load_config(tmp_path / "bin.toml")
    with pytest.raises(ConfigError):
        parse_config_text("[1, 2, 3]", ".json")  # JSON that is not a table
