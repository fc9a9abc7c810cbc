# const() for device code on every interpreter: `from protocol.const import const`.
#
# MicroPython's compiler folds `NAME = const(<int>)` by the name `const` alone, whatever module
# it came from, so importing it from here costs the fob nothing (an `_NAME` still takes no RAM).
# The import below only gives the name a value at run time: MicroPython's own identity function,
# or one of ours on CPython. Lives in protocol/ because firmware/ and hardware/ may import
# protocol/, never the other way round.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x
