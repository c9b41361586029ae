"""The pure tier: everything runs inside the pytest process, in seconds and with nothing installed
but the package. Pure functions, golden JSON fixtures, property tests, tick-by-tick scenarios on
the Metacontroller double, and the Flask test clients. No child process, no socket, no clock but
the one a test passes in."""
