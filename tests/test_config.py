"""Config validation: every invalid field raises ConfigError naming the field and the value."""

from __future__ import annotations

import dataclasses

import pytest

from mm_gym.config import (
    ConfigError,
    FlowConfig,
    IntensityConfig,
    MakersConfig,
    MarketConfig,
    ProcessConfig,
    RivalConfig,
    load_config,
    preset,
    preset_names,
    save_config,
    with_overrides,
)

SECTIONS = {
    "process": ProcessConfig,
    "flow": FlowConfig,
    "makers": MakersConfig,
    "rival": RivalConfig,
    "intensity": IntensityConfig,
}
BAD_VALUES = [-1e12, 1e12, float("nan"), "x"]


def _scalar_fields():
    for sec, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            yield sec, f.name
    for f in dataclasses.fields(MarketConfig):
        if f.name not in SECTIONS:
            yield None, f.name


@pytest.mark.parametrize(("section", "name"), list(_scalar_fields()))
def test_every_invalid_field_raises_config_error_naming_it(section, name):
    key = f"{section}.{name}" if section else name
    raised = 0
    for bad in BAD_VALUES:
        try:
            with_overrides(MarketConfig(), {key: bad})
        except ConfigError as e:
            raised += 1
            assert name in str(e), str(e)
            assert repr(bad) in str(e) or str(bad) in str(e), str(e)
    assert raised >= 3, f"{key}: only {raised} of {BAD_VALUES} rejected"


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="valid keys"):
        with_overrides(MarketConfig(), {"flow.no_such_field": 1})
    with pytest.raises(ConfigError, match="no_such"):
        with_overrides(MarketConfig(), {"no_such": 1})


def test_hawkes_branching_ratio_must_be_below_one():
    with pytest.raises(ConfigError, match="alpha"):
        FlowConfig(hawkes_alpha=1.0, hawkes_beta=1.0)


def test_presets_and_unknown_preset():
    for name in preset_names():
        assert isinstance(preset(name), MarketConfig)
    with pytest.raises(ConfigError, match="default"):
        preset("nope")
    assert preset("as2008").fills == "intensity"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip_and_unknown_keys_in_files(tmp_path, suffix):
    cfg = with_overrides(preset("trending"), {"flow.shock_rate": 0.02})
    path = tmp_path / f"c{suffix}"
    save_config(cfg, path)
    assert load_config(path) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("flow:\n  typo_rate: 1\n")
    with pytest.raises(ConfigError, match="typo_rate"):
        load_config(bad)
