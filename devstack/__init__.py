"""What runs the whole system on one machine, for `make run`, tests and benches. Never shipped
to a fob, gateway or monitor: it starts real parts (uvicorn, Chromium, the firmware on the
simulated board) and wires them together."""
