"""A Hypothesis state machine over the alarm lifecycle service: any sequence of raises,
acknowledgements, resolutions and fob cancels keeps the lifecycle and the audit log honest."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from host_tests.support.monitor import Env
from monitor.errors import InvalidTransition
from monitor.models import Alarm, AuditEntry, Device, Downlink, User, utcnow
from monitor.services import alarm_kinds, alarms, provisioning
from protocol import frame_types as ft
from protocol import frames

_ids = itertools.count(200_000)


def test_alarm_lifecycle_state_machine(sqlite_env: Env) -> None:
    db, keybox = sqlite_env.app.state.db, sqlite_env.app.state.keybox
    transitions: list[str] = []

    class Lifecycle(RuleBasedStateMachine):
        raised = Bundle("alarms")

        def __init__(self) -> None:
            super().__init__()
            self.device_id = next(_ids)
            with db.session() as s:
                provisioning.provision_device(
                    s, keybox, "test", board="sim", device_id=self.device_id, key=bytes(16)
                )
            self.expected: dict[int, str] = {}
            self.actions: dict[int, int] = {}
            self.counter = 0

        @rule(target=raised, kind=st.sampled_from(sorted(alarms.PRIORITY)))
        def raise_(self, kind: str) -> int:
            self.counter += 1
            with db.session() as s:
                d = s.get(Device, self.device_id)
                now = utcnow()
                a = alarms.raise_alarm(
                    s,
                    kind=kind,
                    device=d,
                    raised_at=now,
                    received_at=now,
                    actor="test",
                    source_counter=self.counter,
                )
                self.expected[a.id] = alarms.OPEN
                self.actions[a.id] = 1
                return a.id

        @rule(aid=raised)
        def acknowledge(self, aid: int) -> None:
            with db.session() as s:
                user = s.scalar(select(User).where(User.username == "operator"))
                assert user is not None
                try:
                    alarms.acknowledge(s, keybox, aid, user)
                except InvalidTransition:
                    assert self.expected[aid] != alarms.OPEN
                    return
            assert self.expected[aid] == alarms.OPEN
            self.expected[aid] = alarms.ACKNOWLEDGED
            transitions.append("ack")
            self.actions[aid] += 1

        @rule(aid=raised, outcome=st.sampled_from(alarms.OUTCOMES))
        def resolve(self, aid: int, outcome: str) -> None:
            with db.session() as s:
                try:
                    alarms.resolve(s, keybox, aid, "user:operator", outcome, None)
                except InvalidTransition:
                    assert self.expected[aid] == alarms.RESOLVED
                    return
            assert self.expected[aid] != alarms.RESOLVED
            self.expected[aid] = alarms.RESOLVED
            transitions.append("resolve")
            self.actions[aid] += 1

        @rule(aid=raised)
        def cancel_at_fob(self, aid: int) -> None:
            with db.session() as s:
                alarms.cancel_from_fob(s, alarms.get(s, aid), "device", utcnow())
            self.actions[aid] += 1  # attached, never deleted, status unchanged

        @invariant()
        def database_agrees(self) -> None:
            with db.session() as s:
                for aid, status in self.expected.items():
                    a = s.get(Alarm, aid)
                    assert a is not None and a.status == status
                    assert (a.acknowledged_at is not None) == (a.time_to_ack_s is not None)
                    if status == alarms.RESOLVED:
                        assert a.resolved_at is not None and a.outcome is not None
                    n = s.scalar(
                        select(func.count())
                        .select_from(AuditEntry)
                        .where(AuditEntry.alarm_id == aid)
                    )
                    assert n == self.actions[aid]
                # Every acknowledgement and resolution told the fob, with a valid signature;
                # "help is coming" only for the kinds help comes for (issue 15).
                for dl in s.scalars(select(Downlink).where(Downlink.device_id == self.device_id)):
                    f = frames.decode(dl.frame, bytes(16), ft.DOWNLINK)
                    kind = s.get(Alarm, dl.alarm_id).kind  # type: ignore[union-attr]
                    help_ack = ft.ACK_HELP if kind in alarm_kinds.HELP else ft.ACK
                    assert f.ftype in (help_ack, ft.ACK_RESOLVED), (kind, f)

    run_state_machine_as_test(
        Lifecycle, settings=settings(max_examples=30, stateful_step_count=15, deadline=None)
    )
    # The machine really exercised both transitions, not just raises.
    assert transitions.count("ack") >= 3 and transitions.count("resolve") >= 3
