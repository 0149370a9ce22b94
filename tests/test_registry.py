"""baselines.registry: one table of policies by name, open to users' own policies."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from baselines import registry
from mm_gym.policy import QuotingPolicy


def test_builtin_names_make_policies() -> None:
    assert registry.BASELINE_NAMES == (
        "fixed_spread", "order_flow_skew", "avellaneda_stoikov", "glft", "random",
    )  # fmt: skip
    for name in ("fixed_spread", "order_flow_skew", "random"):
        policy = registry.make_policy(name, "default")
        assert isinstance(policy, QuotingPolicy)
        assert policy.name == name


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_user_policies.py").write_text(
        textwrap.dedent(
            """
            from baselines import FixedSpread

            class Wide(FixedSpread):
                def __init__(self):
                    super().__init__(3.0, name="wide")

            def per_setting(setting, overrides):
                return FixedSpread(2.0 if setting == "trending" else 1.0, name="per_setting")

            INSTANCE = FixedSpread(1.5, name="instance")
            NOT_A_POLICY = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_user_policies"
    sys.modules.pop("my_user_policies", None)


def test_import_specs_make_user_policies(user_module: str) -> None:
    assert registry.make_policy(f"{user_module}:Wide").name == "wide"
    assert registry.make_policy(f"{user_module}:per_setting", "trending").half_spread_ticks == 2.0
    assert registry.make_policy(f"{user_module}:INSTANCE").name == "instance"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("nope", "is not valid"),
        ("no_such_module_xyz:Thing", "cannot import"),
        ("my_user_policies:Missing", "has no attribute"),
        ("my_user_policies:NOT_A_POLICY", "neither a QuotingPolicy nor callable"),
    ],
)
def test_bad_specs_say_what_is_wrong(user_module: str, spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        registry.make_policy(spec)


def test_register_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines import FixedSpread

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_policy("tight", lambda s, o: FixedSpread(0.0, name="tight"))
    assert "tight" in registry.policy_names()
    assert registry.make_policy("tight").name == "tight"
    with pytest.raises(ValueError, match="registered already"):
        registry.register_policy("tight", lambda s, o: FixedSpread(0.0))
    with pytest.raises(ValueError, match="must be letters"):
        registry.register_policy("../x", lambda s, o: FixedSpread(0.0))
    registry.register_policy("bad", lambda s, o: object())
    with pytest.raises(ValueError, match="not a QuotingPolicy"):
        registry.make_policy("bad")


def test_opt_in_policies_are_registered_but_not_run_by_all(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluate
    from baselines import FixedSpread

    assert "sentiment_as" in registry.policy_names()
    assert "sentiment_as" not in registry.default_policy_names()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_policy("tight", lambda s, o: FixedSpread(0.0, name="tight"))
    assert registry.default_policy_names()[-1] == "tight"  # a user's policy runs with 'all'
    chosen = evaluate.select_baselines(evaluate.Args(contestants="all"), ["default"])
    assert list(chosen) == list(registry.default_policy_names())
    named = evaluate.select_baselines(evaluate.Args(contestants="sentiment_as"), ["default"])
    assert list(named) == ["sentiment_as"]
