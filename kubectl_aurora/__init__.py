"""`kubectl aurora`: a kubectl plugin to see and steer Aurora's rollouts and training runs."""
