# voxclean — two commands do all the set-up:  `make demo`  and  `make test`.
# Both create .venv, install the Python packages and the Debian packages they need, and are safe to re-run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test sysdeps venv clean bench-noizeus bench-dev

sysdeps:
	@bash scripts/ensure_sysdeps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[peers,dev,probe]'
	@touch $(STAMP)

venv: sysdeps $(STAMP)

demo: venv
	$(VENV)/bin/voxclean demo --out demo

test: venv
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) demo build *.egg-info
