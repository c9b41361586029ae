"""What the tests share and are not tests themselves: the programs they start (aurora-serve,
the control plane, Metacontroller, Traefik), the doubles they drive, the golden fixtures, the
data they send, and waiting for all of it."""
