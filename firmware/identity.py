# Device id and key on flash. The key goes in by serial provisioning and never comes out: no
# function here returns it except to the frame encoder.
import binascii
import struct

_NAME = "ident"


class Identity:
    def __init__(self, store):
        self._store = store
        self.device_id = None
        self.key = None
        raw = store.read(_NAME)
        if raw and len(raw) > 8:
            body = raw[:-4]
            if struct.unpack(">I", raw[-4:])[0] == binascii.crc32(body) & 0xFFFFFFFF:
                self.device_id = struct.unpack(">I", body[:4])[0]
                self.key = bytes(body[4:])

    @property
    def provisioned(self):
        return self.key is not None

    def set(self, device_id, key):
        body = struct.pack(">I", device_id) + bytes(key)
        self._store.write(_NAME, body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF))
        self.device_id = device_id
        self.key = bytes(key)

    def wipe(self):
        self._store.remove(_NAME)
        self.device_id = None
        self.key = None
