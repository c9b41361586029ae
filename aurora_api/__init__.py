"""The words of Aurora's API, defined once: phases, reasons, verdicts, actions, label and
annotation keys, the formats of versions, durations and timestamps, and the status as clients
read it.

A leaf: it imports nothing of the project, and the hooks, the trainer, the control API and the
plugin import it, so a word renamed here is renamed everywhere (or fails to import).
"""
