"""Provisioning messages (serial only, unsigned): round trip and junk handling on both
interpreters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import DeviceError, Interpreter
from host_tests import strategies as S
from protocol import frame_types as T


@settings(max_examples=80)
@given(ptype=S.prov_types, records=S.prov_records)
def test_round_trip(device: Interpreter, ptype: int, records: dict) -> None:
    data = device.call("protocol.provisioning:encode", ptype, records)
    assert device.call("protocol.provisioning:decode", data) == [ptype, records]


@settings(max_examples=150)
@given(junk=st.binary(max_size=60))
def test_junk_raises_only_protocol_errors(device: Interpreter, junk: bytes) -> None:
    try:
        device.call("protocol.provisioning:decode", junk)
    except DeviceError as e:
        assert e.kind in {"BadLength", "UnknownType", "BadValue"}, e


def test_signed_frame_types_are_not_provisioning(device: Interpreter) -> None:
    try:
        device.call("protocol.provisioning:encode", T.SOS, {})
    except DeviceError as e:
        assert e.kind == "UnknownType"
    else:
        raise AssertionError("SOS accepted as a provisioning type")
