"""Engineers' tooling: build the fob's firmware, flash and deploy it, provision it, inspect it."""
