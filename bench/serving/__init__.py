"""bench/serve: the same scikit-learn models served by Aurora, MLServer and KServe, and loaded.

`run.main()` is the driver; the other modules each own one concern (settings, process
groups, venvs, models, servers, checks, load tools, results and the report). Modules that
run under another venv's python (`python -m serving.<module> JOB ...`) import only the
standard library at import time.
"""
