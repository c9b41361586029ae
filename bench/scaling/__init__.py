"""bench/scale, by concern: the run's settings, the tier it starts, the fleet of inference
series, the MLDeployments it creates and follows, and the figures it prints."""
