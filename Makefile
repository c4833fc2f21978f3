# voxclean — two commands do all the set-up:  `make demo`  and  `make test`.
# Both create .venv, install the Python packages and the Debian packages they need, and are safe to re-run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test sysdeps venv clean bench-noizeus bench-dev

sysdeps:
	@bash scripts/ensure_sysdeps.sh

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[peers,dev,probe,whisper,neural]'
	@# resemblyzer pulls the old webrtcvad, which imports pkg_resources (gone from setuptools >= 81);
	@# webrtcvad-wheels provides the same module without it.
	$(PY) -m pip install -q --force-reinstall --no-deps webrtcvad-wheels
	@touch $(STAMP)

venv: sysdeps $(STAMP)

demo: venv
	$(VENV)/bin/voxclean demo --out demo

test: venv
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) demo build *.egg-info
