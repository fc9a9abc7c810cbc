# The alarms this fob raised, so that "help is coming" answers one of them and nothing else.
#
# An ACK_HELP names the counter of the alarm an operator acknowledged. It is signed by the
# monitor, but a gateway can hold it back and deliver it later, for example while a newer alarm
# is waiting: the worker would then hear "help is coming" as the answer to the new alarm. So the
# fob says it only when all of these hold:
#   1. the counter is one of the alarms in this table (raised by this fob, this identity);
#   2. that alarm was neither cancelled nor resolved, and help was not said for it this boot;
#   3. it is younger than HELP_MAX_AGE_MS, counted by this fob's own clock;
#   4. it is an alarm help comes for (protocol.frame_types.HELP_ALARMS: not low battery);
#   5. no newer alarm that calls for help is still waiting: help for an old alarm must not
#      sound like the answer to a newer one.
#
# The table is a few fixed slots, persisted whole (one file, CRC-checked) so that the monitor's
# repeat of ACK_HELP after a reboot still finds the alarm. The fob has only uptime, so each slot
# is saved with the alarm's age at the time of saving, refreshed every heartbeat while an alarm
# is live. After a reboot the time the fob was off is unknown and the age is only a lower bound;
# the reboot is treated conservatively: an alarm from before it is answered only within the first
# BOOT_HELP_MS of uptime (the monitor repeats ACK_HELP on the first heartbeat after a boot, so a
# genuine repeat comes within seconds) and only while its lower-bound age is under the limit.
# Past that, a frame held back across the reboot is refused.
import binascii
import struct

from protocol import frame_types as ft
from protocol.const import const

SLOTS = const(8)  # alarms remembered; a worker raising more than this in half an hour is rare
# "Help is coming" for an alarm older than this no longer answers what the worker is waiting
# for (a responder has arrived or called by then) and could be taken for the answer to a newer
# alarm. Operators acknowledge within minutes; 30 min leaves room for a slow acknowledgement.
HELP_MAX_AGE_MS = const(1800000)
# After a reboot, alarms from before it are answered for this long only (see above).
BOOT_HELP_MS = const(600000)

_NAME = "raised"
_REC = ">IBBH"  # counter, frame type, state, age in seconds when saved
_REC_LEN = const(8)
_DATA_LEN = const(64)  # SLOTS records
_FILE_LEN = const(68)  # and a CRC-32
_MAX_AGE_S = const(0xFFFF)

EMPTY = const(0)
WAITING = const(1)  # raised, no help said for it this boot
ANSWERED = const(2)  # help said this boot
CLOSED = const(3)  # cancelled, resolved, or too old: never help again
_PREBOOT = const(0x80)  # raised before this boot

# answer() verdicts
SAY = const(0)
REPEAT = const(1)  # help already said for it this boot
UNKNOWN = const(2)
REFUSED_CLOSED = const(3)
REFUSED_OLD = const(4)
SUPERSEDED = const(5)  # a newer alarm is waiting
REFUSED_KIND = const(6)  # not an alarm help comes for (low battery): never "help is coming"


class Raised:
    def __init__(self, store):
        self._store = store
        self.counter = [0] * SLOTS
        self.raised = [0] * SLOTS  # uptime ms; before this boot: minus the saved age
        self.ftype = bytearray(SLOTS)
        self.state = bytearray(SLOTS)
        self._buf = bytearray(_FILE_LEN)
        self._mv = memoryview(self._buf)
        self.corrupt = 0
        self.flash_errors = 0
        self._load()

    # -- what the fob tells us -------------------------------------------------------------
    def add(self, counter, ftype, up):
        # A newly raised alarm takes an empty slot, else the oldest closed one, else the oldest.
        st = self.state
        pick = -1
        for want in (EMPTY, CLOSED):
            for i in range(SLOTS):
                if st[i] & 0x7F == want and (pick < 0 or self.counter[i] < self.counter[pick]):
                    pick = i
            if pick >= 0:
                break
        if pick < 0:
            for i in range(SLOTS):
                if pick < 0 or self.counter[i] < self.counter[pick]:
                    pick = i
        self.counter[pick] = counter
        self.raised[pick] = up
        self.ftype[pick] = ftype
        st[pick] = WAITING

    def close(self, counter, up):
        # Cancelled by the worker or resolved by an operator: a late ACK_HELP for it stays quiet.
        i = self._find(counter)
        if i >= 0 and self.state[i] & 0x7F != CLOSED:
            self.state[i] = CLOSED
            self.save(up)

    def answer(self, counter, up):
        # An ACK_HELP for `counter` arrived: returns SAY when "help is coming" should be played.
        i = self._find(counter)
        if i < 0:
            return UNKNOWN
        if not ft.calls_for_help(self.ftype[i]):
            return REFUSED_KIND  # the monitor sends a plain ACK for these; an old one may not
        s = self.state[i] & 0x7F
        if s == CLOSED:
            return REFUSED_CLOSED
        if not self._live(i, up):
            self.state[i] = CLOSED
            self.save(up)
            return REFUSED_OLD
        if s == ANSWERED:
            return REPEAT
        verdict = SAY
        for j in range(SLOTS):
            if (
                self.counter[j] > counter
                and self.state[j] & 0x7F == WAITING
                and ft.calls_for_help(self.ftype[j])
                and self._live(j, up)
            ):
                verdict = SUPERSEDED
                break
        self.state[i] = ANSWERED
        self.save(up)
        return verdict

    def refresh(self, up):
        # Every heartbeat: close what has aged out and save the ages of what is still live, so
        # that after a reboot the age carries on from here. Writes nothing once all are closed.
        changed = False
        live = False
        st = self.state
        for i in range(SLOTS):
            s = st[i] & 0x7F
            if s == WAITING or s == ANSWERED:
                if self._live(i, up):
                    live = True
                else:
                    st[i] = CLOSED
                    changed = True
        if live or changed:
            self.save(up)

    def wipe(self):
        for i in range(SLOTS):
            self.state[i] = EMPTY
            self.counter[i] = 0
        try:
            self._store.remove(_NAME)
        except OSError:
            self.flash_errors += 1

    def _find(self, counter):
        for i in range(SLOTS):
            if self.state[i] != EMPTY and self.counter[i] == counter:
                return i
        return -1

    def _live(self, i, up):
        if up - self.raised[i] > HELP_MAX_AGE_MS:
            return False
        return not (self.state[i] & _PREBOOT) or up <= BOOT_HELP_MS

    # -- flash -------------------------------------------------------------------------------
    def save(self, up):
        buf = self._buf
        for i in range(SLOTS):
            age = (up - self.raised[i]) // 1000
            age = 0 if age < 0 else (_MAX_AGE_S if age > _MAX_AGE_S else age)
            s = self.state[i]
            struct.pack_into(_REC, buf, i * _REC_LEN, self.counter[i], self.ftype[i], s, age)
        crc = binascii.crc32(self._mv[:_DATA_LEN]) & 0xFFFFFFFF
        struct.pack_into(">I", buf, _DATA_LEN, crc)
        try:
            self._store.write(_NAME, buf)
        except OSError:
            # A full or failing flash must not stop the alarm path; after a reboot the table is
            # older than it should be, which only makes the fob quieter, never wrongly reassuring.
            self.flash_errors += 1

    def _load(self):
        raw = self._store.read(_NAME)
        if raw is None:
            return
        if len(raw) != _FILE_LEN:
            self.corrupt += 1
            return
        mv = memoryview(raw)
        if struct.unpack_from(">I", raw, _DATA_LEN)[0] != binascii.crc32(mv[:_DATA_LEN]) & (
            0xFFFFFFFF
        ):
            self.corrupt += 1
            return
        for i in range(SLOTS):
            c, t, s, age = struct.unpack_from(_REC, raw, i * _REC_LEN)
            s &= 0x7F
            if s == EMPTY or s > CLOSED:
                continue
            self.counter[i] = c
            self.ftype[i] = t
            self.raised[i] = -age * 1000
            # Help said before the reboot may not have been heard (the power was going): the
            # monitor says it again, and the fob plays it once more.
            self.state[i] = (CLOSED if s == CLOSED else WAITING) | _PREBOOT
