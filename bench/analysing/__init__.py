"""bench/analysis: rollouts simulated under three ways of judging a canary (bench/README.md)."""
