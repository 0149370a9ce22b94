# The one entry point: setup | demo | test | check | bench (| test-integrations | test-ray).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-full test-integrations test-ray check lint type bench bench-eval clean dashboard browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: its local CPU build; anything needing torch installed before it pulls CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,dashboard,news]"
	# Every numba kernel compiled once, here, not in the middle of the first test or tour.
	$(PY) -m mm_gym.warmup
	touch $(STAMP)

setup: $(STAMP)

# The main job end to end: train the default PPO policy (runs/demo), then the tournament of it
# against every baseline on three regimes (exports/latest). About 9 minutes on 2 cores at
# 86ccf40 once .venv is built (training 472 s, tournament 48 s, on a shared machine).
demo: $(STAMP)
	$(PY) -m mm_gym.demo
	$(PY) train.py --run-name demo --overwrite
	$(PY) evaluate.py --runs runs/demo --episodes 200

# The default suite (under 10 minutes on 2 cores once the kernels are compiled).
test: $(STAMP) browser
	$(PY) -m pytest -q

# What the default suite leaves out: tests marked slow (long runs) and parallel (the
# multi-threaded kernels, whose first compile takes minutes). CI runs both targets.
test-full: $(STAMP)
	$(PY) -m pytest -q -m "slow or parallel"

# The RL libraries users bring (TorchRL, skrl, Gymnasium's vector RecordVideo): the integrations
# extra, installed after torch (the setup stamp) so that torch is never replaced, then its tests.
test-integrations: $(STAMP)
	$(PY) -m pip install -q -e ".[integrations]"
	$(PY) -m pytest -q -m integrations

# Ray (evaluate.py --ray, train.py --seeds --ray, examples/rllib_ppo.py): the ray extra in a venv
# of its own, since ray[rllib] pins gymnasium 1.2.2 (the main .venv keeps its newer one); torch
# first (its local CPU build), then the package; the numba kernels load from the shared cache
# when both venvs have the same numba (warmup compiles them otherwise). Then the tests marked ray.
RAY_VENV ?= .venv-ray
RAY_PY := $(RAY_VENV)/bin/python
RAY_STAMP := $(RAY_VENV)/.installed

$(RAY_STAMP): pyproject.toml
	test -x $(RAY_PY) || python3 -m venv $(RAY_VENV)
	$(RAY_PY) -m pip install -q --upgrade pip
	$(RAY_PY) -m pip install -q torch==2.13.0
	$(RAY_PY) -m pip install -q -e ".[dev,ray]"
	$(RAY_PY) -m mm_gym.warmup --quiet
	touch $(RAY_STAMP)

# The ray tests, then the env and API tests again under Ray's older gymnasium (1.2.2).
test-ray: $(RAY_STAMP)
	$(RAY_PY) -m pytest -q -m ray
	$(RAY_PY) -m pytest -q tests/test_envs.py tests/test_envs_vector.py tests/test_envs_compat.py \
	  tests/test_envs_parallel.py tests/test_envs_intensity_vector.py tests/test_multivenue.py \
	  tests/test_two_makers.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

type: $(STAMP)
	$(VENV)/bin/mypy mm_gym baselines agents mm_gym_dashboard

check: lint type test

# With MBT_GYM_PYTHON=<its venv's python> MBT_GYM_SRC=<its checkout> (benchmarks/mbt_gym_rate.py
# says how to install mbt_gym), bench_env.py adds issue #14's side-by-side table against mbt_gym.
MBT_GYM_FLAGS = $(if $(MBT_GYM_PYTHON),--mbt-gym-python $(MBT_GYM_PYTHON) --mbt-gym-src $(MBT_GYM_SRC))

bench: $(STAMP)
	$(PY) benchmarks/bench_market.py
	$(PY) benchmarks/bench_as2008.py
	$(PY) benchmarks/bench_env.py $(MBT_GYM_FLAGS)
	$(PY) benchmarks/bench_train.py

# evaluate.py at full size (6 contestants x 3 regimes x 1,000 episodes); takes minutes.
bench-eval: $(STAMP)
	$(PY) benchmarks/bench_evaluate.py

# The Streamlit dashboard: live market, exports/, runs/ (localhost only, no usage stats).
dashboard: $(STAMP)
	$(VENV)/bin/streamlit run dashboard.py --server.address localhost --browser.gatherUsageStats false \
	  --client.toolbarMode viewer

# Headless Chromium for tests/test_dashboard_e2e.py (Debian's package; installed when root).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found (and not root): tests/test_dashboard_e2e.py will skip; apt-get install chromium"; \
	  fi; }

clean:
	rm -rf $(VENV) $(RAY_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
