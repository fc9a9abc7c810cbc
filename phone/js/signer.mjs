// The phone's own frames (its SOS, its visits), signed with the phone's own device key, which
// lives in IndexedDB as a non-extractable CryptoKey: script on the page can use it but never
// read it out. Same protocol as the fob's frames: protocol/frames.py.
import * as outbox from "./outbox.mjs";
import { encode, T } from "./frames.mjs";

export async function identity() {
  const [cred, key] = await Promise.all([outbox.get("credential"), outbox.get("device_key")]);
  if (!cred || !key) return null;
  return { deviceId: cred.device.id, key };
}

export async function battery() {
  // The alarm body has a battery byte. Where the browser does not say (Safari, Firefox), 100
  // stands in rather than 0, which an operator would read as a flat phone.
  try {
    if (navigator.getBattery) return Math.round((await navigator.getBattery()).level * 100);
  } catch { /* not allowed here */ }
  return 100;
}

// Sign one frame with the next counter (reserved and committed first) and commit it to the
// outbox. Returns the outbox record.
export async function signAndCommit(ftype, fields, location) {
  const me = await identity();
  if (!me) throw new Error("this phone is not enrolled yet");
  const counter = await outbox.nextCounter(me.deviceId);
  const frame = await encode(ftype, me.deviceId, counter, fields, me.key);
  return outbox.commit(frame, { link: null, location });
}

export const sos = async (location) => signAndCommit(T.SOS, [await battery(), 0, 0], location);
export const checkinStart = (minutes, location) => signAndCommit(T.CHECKIN_START, [minutes, 0], location);
export const checkinStop = async (location) => signAndCommit(T.CHECKIN_STOP, [await battery(), 0, 0], location);
