// The relay moves frames from the outbox to the monitor, and downlinks back. It runs in the page
// and, for Background Sync, in the service worker: two copies may flush at once, which is safe
// because the monitor deduplicates by (device, counter) and deleting an answered frame twice is
// a no-op.
//
// Backoff is chosen by the kind of failure, as gateway/relay.py:
export const UNREACHABLE_RETRY_MS = 500; // no network, refused, timed out: retry soon, doubling
export const OVERLOADED_RETRY_MS = 2000; // 5xx / 429: the monitor is there but struggling
export const REFUSED_RETRY_MS = 30000; // 401/403 (revoked or unknown phone), or a frame the monitor
// cannot read (held back): the frames stay queued
export const BACKOFF_CAP_MS = 10000;
export const REQUEST_TIMEOUT_MS = 10000; // a POST that hangs longer is treated as unreachable
export const BATCH = 100;
export const DOWNLINK_WAIT_S = 25; // the monitor caps its long poll at 25 s
export const HEALTH_EVERY_MS = 60000;
const ANSWERED = new Set(["accepted", "duplicate", "rejected"]);
const PACKED = "application/octet-stream";
const NO_PACKED_ROUTE = new Set([404, 405]); // a monitor older than /v1/frames/binary

import * as outbox from "./outbox.mjs";
import { decodeReply, encodeRequest } from "./relay_batch.mjs";

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
    this.refusedBatches = 0; // bodies the monitor refused (4xx other than 401/403/429)
    this.held = 0; // frames held back because the monitor could not read them
    this._heldRetryAt = 0;
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
      let singly = 0; // after a refused batch: how many frames to send one at a time
      for (;;) {
        this._again = false;
        const waiting = await outbox.pending(singly ? 1 : BATCH);
        if (!waiting.length) return;
        // A held frame (one the monitor cannot read) goes alone, once nothing else waits, and
        // at the refused pace: it never holds up a frame the monitor can take.
        let items = waiting.filter((i) => !i.held);
        if (!items.length) {
          const wait = this._heldRetryAt - Date.now();
          if (wait > 0) { this._retryIn(wait); return; }
          items = waiting.slice(0, 1);
        }
        const token = await this.token();
        if (!token) { this._state("refused", "not enrolled"); return; }
        const outcome = await this._post(items, token);
        if (outcome === "split") { singly = items.length; continue; }
        if (singly) singly -= 1;
        if (outcome !== "ok" && outcome !== "held") return;
      }
    } finally {
      this._busy = false;
      if (this._again) queueMicrotask(() => this.kick());
    }
  }

  // One POST of the packed batch (relay_batch.mjs) to /v1/frames/binary. The outcome: "ok";
  // "split" (the monitor refused the body: send these frames singly to find the one it cannot
  // read); "held" (that one frame moved behind the others); or a failure kind, retry set.
  async _post(items, token) {
    let body;
    try {
      body = encodeRequest(items, Date.now());
    } catch (e) {
      // Not a frame the monitor could read either: held back, and the others go.
      return this._unreadable(items[e.index ?? 0], `cannot pack it: ${e.message}`);
    }
    const r = await this._send("v1/frames/binary", PACKED, body, token);
    if (r && NO_PACKED_ROUTE.has(r.status)) return this._postJson(items, token);
    const failed = await this._failure(r, items);
    if (failed) return failed;
    let results;
    try {
      results = decodeReply(new Uint8Array(await r.arrayBuffer()), items.length);
    } catch {
      return this._fail("overloaded", OVERLOADED_RETRY_MS, "unreadable answer");
    }
    return this._answered(items, results);
  }

  // A monitor without the packed route (an instance not upgraded yet, or rolled back under an
  // open page): the same frames as JSON to /v1/frames, answered the same way.
  async _postJson(items, token) {
    const body = JSON.stringify({
      frames: items.map((i) => ({
        frame: i.frame, received_at: i.received_at, link: i.link, rssi: i.rssi, location: i.location,
      })),
    });
    const r = await this._send("v1/frames", "application/json", body, token);
    const failed = await this._failure(r, items);
    if (failed) return failed;
    let answer;
    try { answer = await r.json(); } catch { return this._fail("overloaded", OVERLOADED_RETRY_MS, "unreadable answer"); }
    return this._answered(items, Array.isArray(answer?.results) ? answer.results : []);
  }

  async _send(path, type, body, token) {
    try {
      return await fetch(this.base + path, {
        method: "POST",
        headers: { "Content-Type": type, Authorization: `Bearer ${token}` },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        cache: "no-store",
      });
    } catch {
      return null;
    }
  }

  // The outcome of a response that is not an answer for the frames; null when it is one.
  async _failure(r, items) {
    if (!r) return this._fail("unreachable", UNREACHABLE_RETRY_MS, "no connection to the monitor");
    if (r.status === 401 || r.status === 403) {
      this._failures = 0;
      this._state("refused", "this phone's access was refused (revoked?)");
      this._retryIn(REFUSED_RETRY_MS);
      return "refused";
    }
    if (r.status >= 400 && r.status < 500 && r.status !== 429) {
      // The monitor refused the request itself (400 bad_batch: it answers bad frames one by
      // one, so this is a body it cannot read). As gateway/relay.py: find the frame by sending
      // singly, so the others are not held up behind it; nothing is deleted.
      this.refusedBatches += 1;
      this._failures = 0;
      this._state("reachable");
      const why = `monitor answered ${r.status}: ${(await r.text().catch(() => "")).slice(0, 200)}`;
      return items.length > 1 ? "split" : this._unreadable(items[0], why);
    }
    if (!r.ok) return this._fail("overloaded", OVERLOADED_RETRY_MS, `monitor answered ${r.status}`);
    return null;
  }

  async _answered(items, results) {
    const done = [];
    results.forEach((res, i) => {
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
    this.dispatchEvent(new CustomEvent("answered", { detail: { items, results } }));
    return done.length ? "ok" : this._fail("overloaded", OVERLOADED_RETRY_MS, "no answer for the frames");
  }

  // One frame the monitor cannot read, or that cannot be packed. Kept (only an answer deletes a
  // frame) but moved behind everything else, and retried alone at the refused pace.
  async _unreadable(item, why) {
    this._heldRetryAt = Date.now() + REFUSED_RETRY_MS;
    if (!item.held) {
      await outbox.hold(item.id);
      this.held += 1;
      console.warn(`vigil: frame ${item.frame} held back: ${why}`);
      return "held";
    }
    this._retryIn(REFUSED_RETRY_MS);
    return "refused";
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
