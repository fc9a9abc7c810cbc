// The Vigil wire format in the page: read a frame's header (what any gateway may do) and sign
// the phone's OWN frames with its own device key. Byte for byte protocol/frames.py and
// protocol/tag.py; host_tests/phone/test_signer.py checks it against protocol/vectors.json.

export const VERSION = 1;
export const FRAME_LEN = 20;
const SIGNED_LEN = 12;
const TAG_LEN = 8;

export const T = {
  SOS: 0x01, SOS_CANCEL: 0x02, FALL: 0x03, FALL_CANCELLED: 0x04, NO_MOTION: 0x05,
  CHECKIN_START: 0x06, CHECKIN_STOP: 0x07, CHECKIN_OVERDUE: 0x08, LOW_BATTERY: 0x09,
  HEARTBEAT: 0x0a, TEST: 0x0b, ACK: 0x10, ACK_HELP: 0x11, ACK_RESOLVED: 0x12, COMMAND: 0x13,
};
export const NAMES = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k.toLowerCase()]));

// Body layouts (big-endian), as protocol/frame_types.py.
const ALARM = "BBH", CANCEL = "HH", CHECKIN = "HH", HEARTBEAT = "BBBB", ACKB = "I", COMMAND = "BBH";
const LAYOUT = {
  [T.SOS]: ALARM, [T.SOS_CANCEL]: CANCEL, [T.FALL]: ALARM, [T.FALL_CANCELLED]: CANCEL,
  [T.NO_MOTION]: ALARM, [T.CHECKIN_START]: CHECKIN, [T.CHECKIN_STOP]: ALARM,
  [T.CHECKIN_OVERDUE]: ALARM, [T.LOW_BATTERY]: ALARM, [T.HEARTBEAT]: HEARTBEAT, [T.TEST]: ALARM,
  [T.ACK]: ACKB, [T.ACK_HELP]: ACKB, [T.ACK_RESOLVED]: ACKB, [T.COMMAND]: COMMAND,
};
// Frames that raise an alarm, most urgent first: the outbox sends them in this order.
export const ALARMS = [T.SOS, T.FALL, T.NO_MOTION, T.CHECKIN_OVERDUE, T.LOW_BATTERY];
// Frames that may carry the phone's position (alarms and check-ins; never heartbeats).
export const LOCATED = new Set([...ALARMS, T.CHECKIN_START, T.CHECKIN_STOP]);

export const UPLINK = 0, DOWNLINK = 1;
export const direction = (ftype) => (ftype < 0x10 ? UPLINK : ftype < 0x18 ? DOWNLINK : 2);
export function priority(ftype) {
  const i = ALARMS.indexOf(ftype);
  return i < 0 ? ALARMS.length : i;
}

export class FrameError extends Error {
  constructor(reason, message) { super(message); this.reason = reason; }
}

export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export function fromHex(s) {
  if (typeof s !== "string" || s.length % 2 || /[^0-9a-f]/i.test(s)) throw new FrameError("bad_value", "not hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

// Header only, unverified: {ftype, deviceId, counter}. The same checks as protocol.frames.peek.
export function peek(data) {
  const b = data instanceof Uint8Array ? data : new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength);
  if (b.length !== FRAME_LEN) throw new FrameError("bad_length", `frame is ${b.length} bytes, expected ${FRAME_LEN}`);
  if (b[0] >> 5 !== VERSION) throw new FrameError("unknown_type", `protocol version ${b[0] >> 5} not supported`);
  const ftype = b[0] & 0x1f;
  if (!(ftype in LAYOUT)) throw new FrameError("unknown_type", `unknown frame type 0x${ftype.toString(16)}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { ftype, deviceId: v.getUint32(0) & 0xffffff, counter: v.getUint32(4) };
}

const LIMIT = { B: 0xff, H: 0xffff, I: 0xffffffff };

// Key: raw bytes (Uint8Array) or an HMAC CryptoKey with "sign" usage.
export async function hmacKey(raw, extractable = false) {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, extractable, ["sign", "verify"]);
}

async function tag(key, dir, signed) {
  const msg = new Uint8Array(1 + SIGNED_LEN);
  msg[0] = [0x55, 0x44, 0x50][dir]; // "U", "D", "P": bound to direction, never sent
  msg.set(signed, 1);
  const k = key instanceof CryptoKey ? key : await hmacKey(key);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, msg)).slice(0, TAG_LEN);
}

export async function encode(ftype, deviceId, counter, fields, key) {
  const fmt = LAYOUT[ftype];
  if (!fmt) throw new FrameError("unknown_type", `type 0x${ftype.toString(16)} has no signed layout`);
  if (!(deviceId >= 0 && deviceId <= 0xffffff)) throw new FrameError("bad_value", "device id must fit 24 bits");
  if (!(counter >= 0 && counter <= 0xffffffff)) throw new FrameError("bad_value", "counter must fit 32 bits");
  if (fields.length !== fmt.length) throw new FrameError("bad_value", `body needs ${fmt.length} fields`);
  const out = new Uint8Array(FRAME_LEN);
  const v = new DataView(out.buffer);
  v.setUint32(0, (((VERSION << 5) | ftype) << 24 | deviceId) >>> 0);
  v.setUint32(4, counter >>> 0);
  let off = 8;
  fmt.split("").forEach((code, i) => {
    const x = fields[i];
    if (!Number.isInteger(x) || x < 0 || x > LIMIT[code]) throw new FrameError("bad_value", `field ${i} out of range`);
    if (code === "B") { v.setUint8(off, x); off += 1; }
    else if (code === "H") { v.setUint16(off, x); off += 2; }
    else { v.setUint32(off, x); off += 4; }
  });
  out.set(await tag(key, direction(ftype), out.subarray(0, SIGNED_LEN)), SIGNED_LEN);
  return out;
}

// Verify a downlink meant for the phone's own device (ACK_HELP for its own SOS): {ftype, counter, fields}.
export async function verify(data, key, expectDir) {
  const h = peek(data);
  if (expectDir !== undefined && direction(h.ftype) !== expectDir) throw new FrameError("wrong_direction", "wrong direction");
  const want = await tag(key, direction(h.ftype), data.subarray(0, SIGNED_LEN));
  let diff = 0;
  for (let i = 0; i < TAG_LEN; i++) diff |= want[i] ^ data[SIGNED_LEN + i];
  if (diff) throw new FrameError("bad_tag", `tag does not verify for device ${h.deviceId}`);
  const v = new DataView(data.buffer, data.byteOffset + 8, 4);
  return { ...h, body: LAYOUT[h.ftype] === ACKB ? [v.getUint32(0)] : [v.getUint8(0), v.getUint8(1), v.getUint16(2)] };
}
