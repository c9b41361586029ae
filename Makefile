# Two entry points for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test tools bench cluster cluster-down kind-up kind-down clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p var
	scripts/demo

tools:
	scripts/install-tools

test: $(STAMP) tools
	$(VENV)/bin/python -m pytest

# A real control plane on 127.0.0.1 (etcd, kube-apiserver, controllers, scheduler, kwok),
# built from pinned Go modules; the tests use it when it runs and start it when it does not.
cluster:
	scripts/cluster up

cluster-down:
	scripts/cluster down

kind-up:
	scripts/kind-up

kind-down:
	scripts/kind-up --down

bench: $(STAMP)
	bench/serve
	bench/hooks

clean:
	rm -rf $(VENV) var build *.egg-info
