"""The cluster tier: tests marked `cluster`, run against the real control plane of `make cluster`
(scripts/cluster), with the real Metacontroller, Traefik and node where they need them. The
session starts the plane when it is not running and stops what it started (tests/conftest.py)."""
