# Vigil wire protocol: the same files run on the fob (MicroPython) and the host (CPython).
# Import the submodule you need (protocol.frames, protocol.replay, ...): importing them all here
# would cost the fob RAM for modules it never uses.
VERSION = 1
