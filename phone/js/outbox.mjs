// The outbox owns IndexedDB. Every frame, from the fob or signed by the phone, is put here in a
// committed transaction BEFORE anything else happens to it, and deleted only once the monitor
// has answered for it (accepted, duplicate or rejected). A reload, a killed tab or a restarted
// phone therefore costs time, never a frame: the same contract as gateway/queue.py.
//
// Stores: "outbox" (the frames), "kv" (credential, own device key as a CryptoKey, counters,
// visit, downlink cursor), "downlinks" (acks and commands waiting for the fob to be in reach).

import { peek, priority, toHex } from "./frames.mjs";

const DB_NAME = "vigil-phone";
const DB_VERSION = 1;
export const DOWNLINK_MAX_AGE_MS = 15 * 60 * 1000; // as the gateway: a stale command is worse than none
export const DOWNLINKS_PER_FOB = 16;

let dbp = null;
export function open() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const rq = indexedDB.open(DB_NAME, DB_VERSION);
      rq.onupgradeneeded = () => {
        const db = rq.result;
        const out = db.createObjectStore("outbox", { keyPath: "id", autoIncrement: true });
        out.createIndex("order", ["priority", "id"]);
        db.createObjectStore("kv");
        const dl = db.createObjectStore("downlinks", { keyPath: "id", autoIncrement: true });
        dl.createIndex("device", "device_id");
      };
      rq.onsuccess = () => {
        rq.result.onversionchange = () => { rq.result.close(); dbp = null; };
        resolve(rq.result);
      };
      rq.onerror = () => reject(rq.error);
    });
  }
  return dbp;
}

// Run fn(stores) in one transaction; resolves with fn's result once the transaction has COMMITTED
// (oncomplete), not merely when the request succeeded.
export async function tx(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode, { durability: "strict" });
    const stores = Object.fromEntries([].concat(names).map((n) => [n, t.objectStore(n)]));
    let result;
    Promise.resolve(fn(stores, t)).then((r) => { result = r; }, (e) => { t.abort(); reject(e); });
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("transaction aborted"));
  });
}

export const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

const listeners = new Set();
export function onChange(fn) { listeners.add(fn); }
function changed() { for (const fn of listeners) fn(); }

// Commit one 20-byte frame. Returns the stored record. Reads the header only (peek): a frame
// that is not a Vigil uplink is refused here and counted by the caller; nothing else is checked,
// because the phone holds no fob keys.
export async function commit(frame, { link = null, rssi = null, location = null, receivedAt = null } = {}) {
  const h = peek(frame);
  if (h.ftype >= 0x10) throw Object.assign(new Error("not an uplink frame"), { reason: "wrong_direction" });
  const rec = {
    frame: toHex(frame),
    ftype: h.ftype,
    device_id: h.deviceId,
    counter: h.counter,
    priority: priority(h.ftype),
    received_at: receivedAt || new Date().toISOString(),
    link,
    rssi,
    location,
    committed_ms: Date.now(),
  };
  rec.id = await tx("outbox", "readwrite", (s) => req(s.outbox.add(rec)));
  changed();
  return rec;
}

// Oldest-first within priority: every SOS before any fall before ... before heartbeats.
export async function pending(limit = 100) {
  return tx("outbox", "readonly", (s) => new Promise((resolve, reject) => {
    const out = [];
    const cur = s.outbox.index("order").openCursor();
    cur.onsuccess = () => {
      const c = cur.result;
      if (!c || out.length >= limit) return resolve(out);
      out.push(c.value);
      c.continue();
    };
    cur.onerror = () => reject(cur.error);
  }));
}

export async function count() {
  return tx("outbox", "readonly", (s) => req(s.outbox.count()));
}

export async function remove(ids) {
  if (!ids.length) return;
  await tx("outbox", "readwrite", (s) => { for (const id of ids) s.outbox.delete(id); });
  changed();
}

// Move a frame the monitor cannot read behind every other one (gateway/queue.py's hold). It stays
// until the monitor answers for it, like any frame; the relay sends it alone, last.
export const HELD_PRIORITY = 1000;
export async function hold(id) {
  await tx("outbox", "readwrite", async (s) => {
    const r = await req(s.outbox.get(id));
    if (r && !r.held) { r.held = true; r.priority = HELD_PRIORITY; s.outbox.put(r); }
  });
  changed();
}

// Attach a position to frames still waiting (those already answered keep what they had).
export async function attachLocation(ids, location) {
  await tx("outbox", "readwrite", async (s) => {
    for (const id of ids) {
      const r = await req(s.outbox.get(id));
      if (r && !r.location) { r.location = location; s.outbox.put(r); }
    }
  });
}

export async function get(key) { return tx("kv", "readonly", (s) => req(s.kv.get(key))); }
export async function set(key, value) { await tx("kv", "readwrite", (s) => { s.kv.put(value, key); }); changed(); }
export async function del(key) { await tx("kv", "readwrite", (s) => { s.kv.delete(key); }); changed(); }

// Reserve the next counter for the phone's own device, committed before the frame is signed:
// a tab killed between the two skips a counter, never reuses one (protocol/counter.py's rule).
export async function nextCounter(deviceId) {
  const key = `counter:${deviceId}`;
  return tx("kv", "readwrite", async (s) => {
    const used = (await req(s.kv.get(key))) || 0;
    const next = used + 1;
    s.kv.put(next, key);
    return next;
  });
}

// Downlinks for the fob (acks, ACK_HELP, commands) waiting for it to be connected.
export async function queueDownlink(deviceId, frameHex, ageS = 0) {
  await tx("downlinks", "readwrite", async (s) => {
    const mine = await req(s.downlinks.index("device").getAll(deviceId));
    if (mine.some((d) => d.frame === frameHex)) return;
    for (const old of mine.slice(0, Math.max(0, mine.length - DOWNLINKS_PER_FOB + 1))) s.downlinks.delete(old.id);
    s.downlinks.add({ device_id: deviceId, frame: frameHex, queued_ms: Date.now() - ageS * 1000 });
  });
}

export async function takeDownlinks() {
  return tx("downlinks", "readwrite", async (s) => {
    const all = await req(s.downlinks.getAll());
    const fresh = all.filter((d) => Date.now() - d.queued_ms <= DOWNLINK_MAX_AGE_MS);
    for (const d of all) if (!fresh.includes(d)) s.downlinks.delete(d.id);
    return { fresh, stale: all.length - fresh.length };
  });
}

export async function dropDownlink(id) { await tx("downlinks", "readwrite", (s) => { s.downlinks.delete(id); }); }
