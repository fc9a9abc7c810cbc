# Two commands do all set-up on a fresh machine (Python 3.11+, Node.js, package registries):
#   make run    the whole system on this machine
#   make test   lint + every test, on CPython and real MicroPython
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup system-deps run test lint bench screenshot clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The console's map library, copied from npm into the monitor's own /static (gitignored) so the
# monitor serves it itself: control rooms are often offline, and a CDN is one more thing to fail.
# Without the copy the alarm page still shows the position as text and says the map is missing.
VENDOR := monitor/static/vendor
$(VENDOR)/.installed: node_modules/.installed
	rm -rf $(VENDOR)/leaflet && mkdir -p $(VENDOR)/leaflet
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
	  node_modules/leaflet/dist/images node_modules/leaflet/LICENSE $(VENDOR)/leaflet/
	touch $@

# Debian packages the tests use for real parts: chromium (console browser tests) and
# postgresql (the scale-out engine). Installed only when missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

setup: $(VENV)/.installed node_modules/.installed $(VENDOR)/.installed system-deps

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

run: setup
	$(PY) -m devstack.demo

# The README's console pictures, remade from the demo office (devstack/demo_office.py).
screenshot: setup
	$(PY) -m devstack.screenshot --out docs

bench: setup
	$(PY) -m bench.frame_sizes
	$(PY) -m bench.fall_eval
	$(PY) -m bench.firmware_cost
	$(PY) -m bench.ingest
	$(PY) -m bench.alarm_latency
	$(PY) -m bench.phone_latency
	$(PY) -m bench.load
	$(PY) -m bench.handoff
	$(PY) -m bench.reports
	$(PY) -m bench.console_pages

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var dist .pytest_cache .hypothesis
