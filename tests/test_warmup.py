"""``python -m mm_gym.warmup`` compiles the kernels a first use would (the AS2008 entry here)."""

from __future__ import annotations

from mm_gym import warmup
from mm_gym.envs.intensity_vector import IntensityMarketMakingVectorEnv


def test_as2008_warmup_steps_both_action_dtypes(monkeypatch):
    assert warmup._as2008 in [run for _, run in warmup.STEPS]
    dtypes = []
    step = IntensityMarketMakingVectorEnv.step

    def spy(self, actions):
        dtypes.append(actions.dtype.name)
        return step(self, actions)

    monkeypatch.setattr(IntensityMarketMakingVectorEnv, "step", spy)
    warmup._as2008()
    # The kernels take float32 and float64 actions as they are: one compiled version each.
    assert sorted(dtypes) == ["float32", "float64"]
