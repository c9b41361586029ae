# Two entry points for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
# The cluster tier and the tests run in a network namespace of their own (scripts/netns).
IN_NETNS := scripts/netns exec

.PHONY: demo test tools cluster-build bench cluster cluster-down kind-up kind-down clean

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

# The control plane, Metacontroller and Traefik, built from pinned Go modules and sources, and
# Aurora's image for the real node (cached; seconds once built). Built here, with the network,
# before the tests go offline. The image needs root; without it the real node is left out.
cluster-build:
	scripts/cluster build
	if [ "$$(id -u)" -eq 0 ]; then scripts/image build; else echo "make: not root: no image, no real node"; fi

test: $(STAMP) tools cluster-build
	$(IN_NETNS) $(VENV)/bin/python -m pytest

# A real control plane in the namespace (etcd, kube-apiserver, controllers, scheduler, kwok);
# the tests use it when it runs and start it when it does not.
cluster: cluster-build
	$(IN_NETNS) scripts/cluster up

cluster-down:
	$(IN_NETNS) scripts/cluster down

kind-up:
	scripts/kind-up

kind-down:
	scripts/kind-up --down

bench: $(STAMP)
	bench/serve
	bench/hooks
	bench/analysis

clean:
	rm -rf $(VENV) var build *.egg-info
