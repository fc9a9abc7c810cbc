# One error base for everything the protocol rejects. Decoding arbitrary bytes raises only
# these, so a relay or the monitor can count a bad frame by its class and carry on.


class ProtocolError(ValueError):
    reason = "protocol"


class BadLength(ProtocolError):
    reason = "bad_length"


class UnknownType(ProtocolError):
    reason = "unknown_type"


class WrongDirection(ProtocolError):
    # An uplink frame arriving where downlink is expected (or the reverse): a reflection attempt
    # or a confused relay.
    reason = "wrong_direction"


class BadTag(ProtocolError):
    reason = "bad_tag"


class Replayed(ProtocolError):
    reason = "replayed"


class Stale(ProtocolError):
    # Older than the replay window: cannot tell a replay from a very late frame, so refuse.
    reason = "stale"


class BadFraming(ProtocolError):
    reason = "bad_framing"


class BadValue(ProtocolError):
    # A field out of range when encoding (caller bug) or a malformed provisioning record.
    reason = "bad_value"
