# Serial provisioning and diagnostics (protocol.provisioning messages). Physical access to the
# USB port is the trust anchor, so only the serial link hands messages here, never BLE.
from firmware.config import FIRMWARE_VERSION
from protocol import frame_types as ft
from protocol import provisioning as pv
from protocol.errors import ProtocolError

# Provisioning tags that set config, and the config key each one sets.
_CONFIG_TAGS = (
    (pv.T_HEARTBEAT_S, "heartbeat_s"),
    (pv.T_NO_MOTION_S, "no_motion_s"),
    (pv.T_SOS_HOLD_MS, "sos_hold_ms"),
    (pv.T_COVERT, "covert"),
    (pv.T_FALL_CANCEL_S, "fall_cancel_s"),
)
_KEY_LENS = (16, 32)


def _result(code, message):
    return pv.encode(ft.PROV_RESULT, {pv.T_RESULT: code, pv.T_MESSAGE: message})


class Admin:
    def __init__(self, fob):
        self.fob = fob

    def handle(self, payload):
        # Returns the reply message (bytes) or None. Malformed input gets a reply, never a crash.
        try:
            ptype, rec = pv.decode(payload)
        except ProtocolError as e:
            return _result(pv.R_BAD_REQUEST, "malformed: %s" % e)
        if ptype == ft.PROV_INFO_REQ:
            return self._info()
        if ptype == ft.PROV_SET:
            return self._set(rec)
        if ptype == ft.PROV_RESET:
            return self._reset()
        if ptype == ft.PROV_STATUS_REQ:
            return self._status(rec)
        return _result(pv.R_BAD_REQUEST, "unexpected message 0x%02x" % ptype)

    def _info(self):
        fob = self.fob
        rec = {
            pv.T_FIRMWARE: FIRMWARE_VERSION,
            pv.T_BOARD: fob.hw.board,
            pv.T_PROVISIONED: 1 if fob.provisioned else 0,
        }
        if fob.provisioned:
            rec[pv.T_DEVICE_ID] = fob.identity.device_id
        return pv.encode(ft.PROV_INFO, rec)  # never the key

    def _set(self, rec):
        fob = self.fob
        if fob.provisioned and not rec.get(pv.T_FORCE):
            return _result(pv.R_ALREADY_PROVISIONED, "already provisioned: reset or force")
        dev = rec.get(pv.T_DEVICE_ID)
        key = rec.get(pv.T_KEY)
        if not isinstance(dev, int) or dev < 0 or dev > 0xFFFFFF:
            return _result(pv.R_BAD_REQUEST, "device id must be an integer below 2^24")
        if not isinstance(key, bytes) or len(key) not in _KEY_LENS:
            return _result(pv.R_BAD_REQUEST, "key must be 16 or 32 bytes")
        changes = {}
        for tag, name in _CONFIG_TAGS:
            v = rec.get(tag)
            if v is not None:
                if not isinstance(v, int):
                    return _result(pv.R_BAD_REQUEST, "%s must be an integer" % name)
                changes[name] = v
        new_identity = fob.identity.device_id != dev or fob.identity.key != key
        if new_identity:
            # Pending frames belong to the old identity; signing them as the new one would
            # attribute another worker's alarms to this one.
            fob.outbox.wipe()
        fob.identity.set(dev, key)
        if changes:
            fob.config.update(changes)
        fob.reprovisioned(new_identity)
        fob.log("provisioned as device %d" % dev)
        return _result(pv.R_OK, "provisioned as device %d" % dev)

    def _reset(self):
        fob = self.fob
        fob.identity.wipe()
        fob.config.reset()
        fob.outbox.wipe()
        fob.clear_checkin()
        fob.reprovisioned(True)
        # The counter store stays: a re-provisioned fob must still never reuse a counter.
        return _result(pv.R_OK, "factory reset: key wiped")

    def _status(self, rec):
        fob = self.fob
        st = fob.status()
        out = {
            pv.T_PROVISIONED: 1 if st["provisioned"] else 0,
            pv.T_BATTERY_PCT: st["battery_pct"],
            pv.T_OUTBOX: st["outbox"],
            pv.T_SENSOR_OK: 1 if st["sensor_ok"] else 0,
            pv.T_MEM_FREE: min(st["mem_free"], 0xFFFFFFFF),
            pv.T_UPTIME_S: st["uptime_s"],
            pv.T_COUNTER: st["counter"],
            pv.T_CHECKIN_ACTIVE: st["checkin_s"],
            pv.T_COVERT: st["covert"],
        }
        for tag, name in _CONFIG_TAGS:
            out[tag] = int(fob.config[name])  # settings are readable; only the key is not
        if pv.T_TEST_FRAME in rec:
            frame = fob.test_frame()
            if frame is None:
                out[pv.T_RESULT] = pv.R_NOT_PROVISIONED
                out[pv.T_MESSAGE] = "not provisioned: no test frame"
            else:
                out[pv.T_RESULT] = pv.R_OK
                out[pv.T_TEST_FRAME] = frame
        return pv.encode(ft.PROV_STATUS, out)
