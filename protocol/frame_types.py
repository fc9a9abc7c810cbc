# Frame type codes, their direction and their body layout.
#
# Byte 0 of every frame is version (top 3 bits) | type (low 5 bits). Types are split by
# direction so a frame can never be valid both ways: 0x01-0x0F uplink (fob -> monitor),
# 0x10-0x17 downlink (monitor -> fob), 0x18-0x1F provisioning (serial only, unsigned).
from protocol.const import const

VERSION = const(1)

# Uplink
SOS = const(0x01)
SOS_CANCEL = const(0x02)
FALL = const(0x03)
FALL_CANCELLED = const(0x04)
NO_MOTION = const(0x05)
CHECKIN_START = const(0x06)
CHECKIN_STOP = const(0x07)
CHECKIN_OVERDUE = const(0x08)
LOW_BATTERY = const(0x09)
HEARTBEAT = const(0x0A)
TEST = const(0x0B)  # provisioning self-test: proves the key end to end, never an alarm

# Downlink
ACK = const(0x10)  # the monitor has stored the frame: stop retrying
ACK_HELP = const(0x11)  # an operator has acknowledged the alarm: help is coming
ACK_RESOLVED = const(0x12)  # the alarm is closed at the monitor
COMMAND = const(0x13)

# Provisioning (serial only; see protocol.provisioning)
PROV_INFO_REQ = const(0x18)
PROV_INFO = const(0x19)
PROV_SET = const(0x1A)
PROV_RESULT = const(0x1B)
PROV_RESET = const(0x1C)
PROV_STATUS_REQ = const(0x1D)
PROV_STATUS = const(0x1E)
PROV_LOG = const(0x1F)

UPLINK = const(0)
DOWNLINK = const(1)
PROVISIONING = const(2)

# Body field layouts (struct formats, big-endian). Every signed body is 4 bytes, so every signed
# frame is exactly 20 bytes: one default-MTU BLE notification.
#   alarm:     battery_pct | AGE_LOWER_BOUND flag (u8), detail (u8), age_s (u16)
#   cancel:    counter delta back to the cancelled alarm (u16), age_s (u16)
#   checkin:   duration_min (u16), age_s (u16)
#   heartbeat: battery_pct (u8), flags (u8), outbox_depth (u8), uptime_h (u8)
#   ack:       the acknowledged uplink counter (u32)
#   command:   command (u8), argument (u8), value (u16)
ALARM_BODY = ">BBH"
CANCEL_BODY = ">HH"
CHECKIN_BODY = ">HH"
HEARTBEAT_BODY = ">BBBB"
ACK_BODY = ">I"
COMMAND_BODY = ">BBH"

# Set in the battery byte of an alarm body when the fob rebooted after raising the alarm: the
# time the fob was off is unknown, so age_s is only a lower bound.
AGE_LOWER_BOUND = const(0x80)

# Heartbeat flag bits
HB_SENSOR_FAULT = const(0x01)
HB_CHARGING = const(0x02)
HB_CHECKIN_ACTIVE = const(0x04)
HB_COVERT = const(0x08)
HB_BOOTED = const(0x10)  # first heartbeat since power-on
HB_OUTBOX_FULL = const(0x20)
HB_LINK_BLE = const(0x40)

# Commands (COMMAND body, first byte)
CMD_START_CHECKIN = const(1)  # value: minutes
CMD_STOP_CHECKIN = const(2)
CMD_SET_HEARTBEAT = const(3)  # value: seconds
CMD_SET_COVERT = const(4)  # argument: 0 off, 1 on
CMD_LOCATE = const(5)  # buzz so the fob can be found
CMD_SET_NO_MOTION = const(6)  # value: seconds
CMD_SET_CHECKIN_MIN = const(7)  # value: minutes a check-in started from the button lasts

_LAYOUT = {
    SOS: ALARM_BODY,
    SOS_CANCEL: CANCEL_BODY,
    FALL: ALARM_BODY,
    FALL_CANCELLED: CANCEL_BODY,
    NO_MOTION: ALARM_BODY,
    CHECKIN_START: CHECKIN_BODY,
    CHECKIN_STOP: ALARM_BODY,
    CHECKIN_OVERDUE: ALARM_BODY,
    LOW_BATTERY: ALARM_BODY,
    HEARTBEAT: HEARTBEAT_BODY,
    TEST: ALARM_BODY,
    ACK: ACK_BODY,
    ACK_HELP: ACK_BODY,
    ACK_RESOLVED: ACK_BODY,
    COMMAND: COMMAND_BODY,
}

# The names of the ALARMS below are also the monitor's stored alarm kinds and ALARMS' order their
# priorities (monitor/services/alarm_kinds.py derives both from here): renaming one is a data
# migration, reordering them re-ranks every console.
NAMES = {
    SOS: "sos",
    SOS_CANCEL: "sos_cancel",
    FALL: "fall",
    FALL_CANCELLED: "fall_cancelled",
    NO_MOTION: "no_motion",
    CHECKIN_START: "checkin_start",
    CHECKIN_STOP: "checkin_stop",
    CHECKIN_OVERDUE: "checkin_overdue",
    LOW_BATTERY: "low_battery",
    HEARTBEAT: "heartbeat",
    TEST: "test",
    ACK: "ack",
    ACK_HELP: "ack_help",
    ACK_RESOLVED: "ack_resolved",
    COMMAND: "command",
}

# Frames that raise an alarm for an operator, highest priority first (outbox order too).
ALARMS = (SOS, FALL, NO_MOTION, CHECKIN_OVERDUE, LOW_BATTERY)
# The alarms a person comes for. An operator's acknowledgement of one is ACK_HELP and the fob
# says "help is coming"; a flat battery gets a plain ACK: nobody is on the way for it.
HELP_ALARMS = (SOS, FALL, NO_MOTION, CHECKIN_OVERDUE)


def layout(ftype):
    # The struct format of a signed frame's body, or None if the type is not a signed frame.
    return _LAYOUT.get(ftype)


def direction(ftype):
    if ftype < 0x10:
        return UPLINK
    if ftype < 0x18:
        return DOWNLINK
    return PROVISIONING


def is_alarm(ftype):
    return ftype in ALARMS


def calls_for_help(ftype):
    return ftype in HELP_ALARMS


def priority(ftype):
    # Lower is more urgent: SOS 0, fall 1, ... ; everything else after the alarms.
    for i in range(len(ALARMS)):
        if ALARMS[i] == ftype:
            return i
    return len(ALARMS)
