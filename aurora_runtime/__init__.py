"""What Aurora's three services share at run time: gunicorn embedded, prometheus_client's
multiprocess folder, and the base of their errors. No service imports another; each imports this."""
