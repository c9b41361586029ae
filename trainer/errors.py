"""Errors of the trainer, each tied to the exit code the controller acts on."""

EXIT_PUBLISHED = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_GATE_FAILED = 3


class InputError(Exception):
    """Bad input (dataset, parameters, flags): retrying cannot help, exit 2."""
