// The packed batch the relay posts to the monitor (POST /v1/frames/binary) and the packed
// answer, in the page. Byte for byte protocol/relay_batch.py, which documents the layout;
// host_tests/phone/test_relay_batch.py checks this module against it in Chromium.
//
//   request  = HEADER, count x RECORD, located x LOCATION
//     HEADER   "VGB1", count u16, located u16, base_ms i64 (the phone's clock when it packed)
//     RECORD   frame 20 bytes, age_ms u32 (base_ms - received at; AGE_UNKNOWN), link u8, rssi i8
//     LOCATION index u16 (ascending), lat f64, lon f64, accuracy_m f32 (NaN: none),
//              source u8, fix_age_s i32 (-1: none)
//   reply    = "VGR1", count u16, count x (status u8, reason u8, ack 20 bytes: zeros when none)
//
// Big-endian throughout (DataView's default). An item that cannot be packed (not a 20-byte
// frame, a link or source the table lacks, a value out of its field's range) throws BatchError
// naming its index, where protocol/relay_batch.py raises: the relay holds that frame back.

import { FRAME_LEN, fromHex, toHex } from "./frames.mjs";

export const REQUEST_MAGIC = "VGB1";
export const REPLY_MAGIC = "VGR1";
export const HEADER_LEN = 16;
export const RECORD_LEN = 26;
export const LOCATION_LEN = 27;
export const REPLY_HEADER_LEN = 6;
export const RESULT_LEN = 22;
export const MAX_COUNT = 0xffff;

export const AGE_UNKNOWN = 0xffffffff; // the relay does not know when it heard the frame
export const RSSI_NONE = -128;
export const FIX_AGE_NONE = -1;
// Codes on the wire, as protocol/relay_batch.py: 0 is always "not said".
export const LINKS = [null, "serial", "ble"];
export const SOURCES = [null, "phone_gps", "gateway_site"];
export const STATUSES = ["accepted", "duplicate", "rejected"];
// Append only, as the Python table. A code past its end reads as "other".
export const REASONS = [
  null, "malformed", "bad_length", "unknown_type", "wrong_direction", "bad_tag", "replayed",
  "stale", "out_of_scope", "unknown_device", "revoked_device", "key_unavailable",
];
export const REASON_OTHER = 255;
// The NaN CPython's struct packs for float("nan"); DataView may write any NaN, so it is spelled.
const NAN_F32 = 0x7fc00000;

export class BatchError extends Error {
  constructor(message, index = null) {
    super(message);
    this.reason = "bad_batch";
    this.index = index; // the item that could not be packed, or null for the whole body
  }
}

export const requestLen = (count, located) => HEADER_LEN + count * RECORD_LEN + located * LOCATION_LEN;

// base_ms - when the frame was heard, clamped into u32 (below AGE_UNKNOWN); unknown when
// received_at is missing or does not parse.
export function ageMs(receivedAt, baseMs) {
  const heard = typeof receivedAt === "string" ? Date.parse(receivedAt) : NaN;
  if (!Number.isFinite(heard)) return AGE_UNKNOWN;
  return Math.min(Math.max(0, Math.trunc(baseMs - heard)), AGE_UNKNOWN - 1);
}

// items: outbox records ({frame: hex, received_at, link, rssi, location}); baseMs: Date.now().
// Returns the body as a Uint8Array.
export function encodeRequest(items, baseMs) {
  if (items.length > MAX_COUNT) throw new BatchError(`${items.length} items: at most ${MAX_COUNT} in one body`);
  if (!Number.isSafeInteger(baseMs)) throw new BatchError(`base_ms ${baseMs} is not an integer`);
  const located = items.reduce((n, item) => n + (item.location == null ? 0 : 1), 0);
  const out = new Uint8Array(requestLen(items.length, located));
  const v = new DataView(out.buffer);
  putAscii(out, 0, REQUEST_MAGIC);
  v.setUint16(4, items.length);
  v.setUint16(6, located);
  v.setBigInt64(8, BigInt(baseMs));
  let rec = HEADER_LEN;
  let loc = HEADER_LEN + items.length * RECORD_LEN;
  items.forEach((item, i) => {
    try {
      out.set(frameBytes(item.frame), rec);
      v.setUint32(rec + 20, ageMs(item.received_at, baseMs));
      v.setUint8(rec + 24, code(LINKS, item.link, "link"));
      v.setInt8(rec + 25, rssiCode(item.rssi));
      if (item.location != null) {
        packLocation(v, loc, i, item.location);
        loc += LOCATION_LEN;
      }
    } catch (e) {
      throw new BatchError(`item ${i}: ${e.message}`, i);
    }
    rec += RECORD_LEN;
  });
  return out;
}

// The reply to a body of `count` frames -> [{status, reason, ack (hex) or null}], in order.
// Throws BatchError when it is not that (length, magic, count or an unknown status).
export function decodeReply(body, count) {
  const b = body instanceof Uint8Array ? body : new Uint8Array(body);
  if (b.length !== REPLY_HEADER_LEN + RESULT_LEN * count) {
    throw new BatchError(`reply is ${b.length} bytes for ${count} frames`);
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (ascii(b, 0, 4) !== REPLY_MAGIC || v.getUint16(4) !== count) {
    throw new BatchError(`reply is not an answer for ${count} frames`);
  }
  const out = [];
  for (let at = REPLY_HEADER_LEN; at < b.length; at += RESULT_LEN) {
    const status = v.getUint8(at);
    const reason = v.getUint8(at + 1);
    if (status >= STATUSES.length) throw new BatchError(`reply status ${status} is not one of ${STATUSES.length}`);
    const ack = b.subarray(at + 2, at + RESULT_LEN);
    out.push({
      status: STATUSES[status],
      reason: reason < REASONS.length ? REASONS[reason] : "other",
      ack: ack.some((x) => x !== 0) ? toHex(ack) : null,
    });
  }
  return out;
}

function frameBytes(frame) {
  const b = typeof frame === "string" ? fromHex(frame) : frame instanceof Uint8Array ? frame : null;
  if (!b) throw new Error("a frame is a hex string or bytes");
  if (b.length !== FRAME_LEN) throw new Error(`a frame is ${b.length} bytes, not ${FRAME_LEN}`);
  return b;
}

function code(table, value, what) {
  const i = table.indexOf(value ?? null);
  if (i < 0) throw new Error(`${what} ${JSON.stringify(value)} is not one of ${JSON.stringify(table)}`);
  return i;
}

function rssiCode(rssi) {
  if (rssi == null) return RSSI_NONE;
  return Math.min(Math.max(-127, Math.trunc(number(rssi, "rssi"))), 127);
}

function packLocation(v, at, index, where) {
  v.setUint16(at, index);
  v.setFloat64(at + 2, number(where.lat, "lat", true));
  v.setFloat64(at + 10, number(where.lon, "lon", true));
  const acc = where.accuracy_m == null ? NaN : number(where.accuracy_m, "accuracy_m", true);
  if (Number.isNaN(acc)) v.setUint32(at + 18, NAN_F32);
  else if (Number.isFinite(acc) && !Number.isFinite(Math.fround(acc))) throw new Error(`accuracy_m ${acc} does not fit a float32`);
  else v.setFloat32(at + 18, acc);
  v.setUint8(at + 22, code(SOURCES, where.source, "source"));
  const fix = where.fix_age_s == null ? FIX_AGE_NONE : Math.trunc(number(where.fix_age_s, "fix_age_s"));
  if (fix < -0x80000000 || fix > 0x7fffffff) throw new Error(`fix_age_s ${fix} does not fit 32 bits`);
  v.setInt32(at + 23, fix);
}

// A number, as Python's float()/int() would take it; NaN and infinities only where float() is.
function number(x, what, real = false) {
  if (typeof x !== "number" || (!real && !Number.isFinite(x))) throw new Error(`${what} ${JSON.stringify(x)} is not a number`);
  return x;
}

function putAscii(b, at, s) { for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i); }
const ascii = (b, at, n) => String.fromCharCode(...b.subarray(at, at + n));
