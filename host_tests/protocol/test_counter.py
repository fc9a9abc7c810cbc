"""Counter reservation on flash: no counter is ever reused across reboots or torn writes, and
flash is written once per block, not once per frame."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import Interpreter

_paths = itertools.count()


def _fresh_path(device: Interpreter) -> str:
    # MicroPython's filesystem is in memory; CPython's is the real /tmp. Unique names keep
    # hypothesis examples independent.
    import tempfile

    base = "/tmp" if device.name == "micropython" else tempfile.mkdtemp()
    return f"{base}/ctr{next(_paths)}"


@settings(max_examples=40)
@given(
    runs=st.lists(st.integers(0, 150), min_size=1, max_size=6),
    block=st.sampled_from([1, 8, 64]),
    tear=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_no_counter_is_reused_across_reboots_and_torn_writes(
    device: Interpreter, runs: list[int], block: int, tear: list[bool]
) -> None:
    path = _fresh_path(device)
    device.exec("from protocol.counter import CounterStore as _CS")
    used: list[int] = []
    for i, n in enumerate(runs):
        # Each run is one boot: take n counters, then lose power. When the cut lands while the next
        # block is being reserved, the slot being written is torn: the store writes to the older
        # slot, and no counter of the new block was handed out yet (it writes before it uses).
        got = device.eval(f"[_s.next() for _s in [_CS({path!r}, {block})] for _ in range({n})]")
        used.extend(got)
        if tear[i] and n:
            device.exec(
                f"_st = _CS({path!r}, {block})\n"
                f"_victim = _st._slots[_st._slot]\n"
                "with open(_victim, 'wb') as _f: _f.write(b'\\x01\\x02')\n"
            )
    assert len(used) == len(set(used)), "a counter was reused"
    assert used == sorted(used), "counters went backwards"


def test_flash_is_written_once_per_block(device: Interpreter) -> None:
    path = _fresh_path(device)
    device.exec(f"from protocol.counter import CounterStore as _CS\n_s = _CS({path!r}, 64)")
    device.exec("_ = [_s.next() for _ in range(640)]")
    assert device.eval("_s.writes") == 10
