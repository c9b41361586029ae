"""Helpers of the cluster tier: the programs the tests run beside the control plane."""
