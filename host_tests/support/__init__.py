"""Helpers the test packages share: constants, small classes and functions, never fixtures.

Fixtures live in conftest.py files, where pytest finds them; tests import everything else from
here, so no test imports another package's conftest.
"""
