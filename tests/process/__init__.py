"""The process tier: real programs on 127.0.0.1 — aurora-serve and aurora-hooks under gunicorn,
Prometheus and Alertmanager, promtool, kubectl kustomize, kubernetes-validate, the linters — or a
socket of the test's own, and no control plane. A tool that is missing skips its test, and fails
it under CI=true (`make tools` installs them)."""
