// The relay moves frames from the outbox to the monitor, and downlinks back. It runs in the page
// and, for Background Sync, in the service worker: two copies may flush at once, which is safe
// because the monitor deduplicates by (device, counter) and deleting an answered frame twice is
// a no-op.
//
// Backoff is chosen by the kind of failure, as gateway/relay.py:
export const UNREACHABLE_RETRY_MS = 500; // no network, refused, timed out: retry soon, doubling
export const OVERLOADED_RETRY_MS = 2000; // 5xx / 429: the monitor is there but struggling
export const REFUSED_RETRY_MS = 30000; // 401/403: revoked or unknown phone; frames stay queued
export const BACKOFF_CAP_MS = 10000;
export const REQUEST_TIMEOUT_MS = 10000; // a POST that hangs longer is treated as unreachable
export const BATCH = 100;
export const DOWNLINK_WAIT_S = 25; // the monitor caps its long poll at 25 s
export const HEALTH_EVERY_MS = 60000;
const ANSWERED = new Set(["accepted", "duplicate", "rejected"]);

import * as outbox from "./outbox.mjs";

export class Relay extends EventTarget {
  constructor({ base = new URL("../../", import.meta.url).href, onAck = () => {}, onDownlink = () => {} } = {}) {
    super();
    this.base = base.replace(/\/?$/, "/");
    this.onAck = onAck;
    this.onDownlink = onDownlink;
    this.monitor = "unknown"; // reachable | unreachable | overloaded | refused | unknown
    this.detail = "";
    this.rejected = {}; // reason -> count, for the worker and for support
    this.sent = 0;
    this._busy = false;
    this._again = false;
    this._timer = null;
    this._failures = 0;
    this._polling = false;
  }

  async token() {
    const c = await outbox.get("credential");
    return c ? c.gateway_token : null;
  }

  _state(monitor, detail = "") {
    if (this.monitor !== monitor || this.detail !== detail) {
      this.monitor = monitor;
      this.detail = detail;
      this.dispatchEvent(new Event("state"));
    }
  }

  // Flush now (a frame was committed, the network came back, the page opened).
  kick() {
    clearTimeout(this._timer);
    this._timer = null;
    if (this._busy) { this._again = true; return this._running; }
    this._running = this._flush();
    return this._running;
  }

  _retryIn(ms) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.kick(), ms);
  }

  async _flush() {
    this._busy = true;
    try {
      for (;;) {
        this._again = false;
        const items = await outbox.pending(BATCH);
        if (!items.length) return;
        const token = await this.token();
        if (!token) { this._state("refused", "not enrolled"); return; }
        const outcome = await this._post(items, token);
        if (outcome !== "ok") return;
      }
    } finally {
      this._busy = false;
      if (this._again) queueMicrotask(() => this.kick());
    }
  }

  async _post(items, token) {
    let r;
    try {
      r = await fetch(this.base + "v1/frames", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({
          frames: items.map((i) => ({
            frame: i.frame, received_at: i.received_at, link: i.link, rssi: i.rssi, location: i.location,
          })),
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        cache: "no-store",
      });
    } catch (e) {
      return this._fail("unreachable", UNREACHABLE_RETRY_MS, "no connection to the monitor");
    }
    if (r.status === 401 || r.status === 403) {
      this._failures = 0;
      this._state("refused", "this phone's access was refused (revoked?)");
      this._retryIn(REFUSED_RETRY_MS);
      return "refused";
    }
    if (!r.ok) return this._fail("overloaded", OVERLOADED_RETRY_MS, `monitor answered ${r.status}`);
    let body;
    try { body = await r.json(); } catch { return this._fail("overloaded", OVERLOADED_RETRY_MS, "unreadable answer"); }
    const done = [];
    (body.results || []).forEach((res, i) => {
      const item = items[i];
      if (!item || !ANSWERED.has(res.status)) return;
      done.push(item.id);
      if (res.status === "rejected") this.rejected[res.reason] = (this.rejected[res.reason] || 0) + 1;
      if (res.ack && item.link) this.onAck(item.device_id, res.ack, item);
    });
    await outbox.remove(done);
    this.sent += done.length;
    this._failures = 0;
    this._state("reachable");
    this.dispatchEvent(new CustomEvent("answered", { detail: { items, results: body.results } }));
    return done.length ? "ok" : this._fail("overloaded", OVERLOADED_RETRY_MS, "no answer for the frames");
  }

  _fail(kind, first, detail) {
    const ms = Math.min(BACKOFF_CAP_MS, first * 2 ** Math.min(this._failures, 10));
    this._failures += 1;
    this._state(kind, detail);
    this._retryIn(ms);
    this.dispatchEvent(new CustomEvent("failed", { detail: { kind } }));
    return kind;
  }

  // GET /v1/downlink long poll while the page is open: ACK_HELP and commands for this worker's
  // fobs (and the phone's own device).
  async pollDownlinks() {
    if (this._polling) return;
    this._polling = true;
    let failures = 0;
    let wait = 0; // the first poll answers at once: the worker sees "monitor reachable" on open
    while (this._polling) {
      const token = await this.token();
      if (!token) { await sleep(REFUSED_RETRY_MS); continue; }
      const after = (await outbox.get("downlink_cursor")) || 0;
      try {
        const r = await fetch(`${this.base}v1/downlink?after=${after}&wait=${wait}`, {
          headers: { Authorization: `Bearer ${token}` }, cache: "no-store",
          signal: AbortSignal.timeout((DOWNLINK_WAIT_S + 10) * 1000),
        });
        if (r.status === 401 || r.status === 403) {
          this._state("refused", "this phone's access was refused (revoked?)");
          await sleep(REFUSED_RETRY_MS);
          continue;
        }
        if (!r.ok) throw Object.assign(new Error(String(r.status)), { overloaded: true });
        const body = await r.json();
        for (const item of body.items) await this.onDownlink(item);
        await outbox.set("downlink_cursor", body.cursor);
        failures = 0;
        wait = DOWNLINK_WAIT_S;
        if (this.monitor !== "refused") this._state("reachable");
      } catch (e) {
        const first = e.overloaded ? OVERLOADED_RETRY_MS : UNREACHABLE_RETRY_MS;
        if (this.monitor !== "refused") {
          this._state(e.overloaded ? "overloaded" : "unreachable", e.overloaded ? `monitor answered ${e.message}` : "no connection to the monitor");
        }
        await sleep(Math.min(BACKOFF_CAP_MS, first * 2 ** Math.min(failures++, 10)));
      }
    }
  }

  stopPolling() { this._polling = false; }

  async health(extra) {
    const token = await this.token();
    if (!token) return;
    try {
      await fetch(this.base + "v1/gateways/health", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ queue_depth: await outbox.count(), ...extra }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch { /* health is best effort; frames carry the safety */ }
  }

  // A phone-token API call other than frames (visit memo). Returns the Response or null offline.
  async call(path, body) {
    const token = await this.token();
    try {
      return await fetch(this.base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch { return null; }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
