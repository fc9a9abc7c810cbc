"""bench/sia_peer.py measures pysiaalarm's receiver: it must count only what the receiver
accepted. The receiver is the real one, in its own process (devstack/sia_receiver.py)."""

from __future__ import annotations

import pytest

from bench import sia_peer


def test_the_peer_acks_alarms_at_a_positive_rate() -> None:
    assert sia_peer.alarms_per_s(0.5) > 0


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "aes128"])
@pytest.mark.parametrize("receiver", ["asyncio", "threaded"])
def test_a_message_with_a_bad_crc_is_not_counted(
    encrypted: bool, receiver: sia_peer.Receiver
) -> None:
    key = sia_peer.KEY.encode() if encrypted else None
    with (
        sia_peer.receiver_process(encrypted, receiver) as arc,
        sia_peer.Panel(arc.port, key) as panel,
    ):
        assert panel.send(sia_peer.message(1, key), 1)
        assert not panel.send(sia_peer.corrupted(sia_peer.message(2, key)), 2)
        assert not panel.send(sia_peer.message(3, key), 4)  # an ACK, but not for this one
        assert panel.send(sia_peer.message(4, key), 4)  # the connection is still in step
    assert arc.totals["valid_events"] == 3
    assert arc.totals["error_crc"] == 1
    assert arc.totals["accepted"] == {"SIA-DCS": 3}
