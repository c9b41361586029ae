"""Training: the model store, datasets, estimators and the `aurora-train` program."""
