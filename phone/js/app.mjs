// Wires the page: status line, SOS, visits, fob, enrolment. Each part lives in its own module;
// this one only connects them to the document.
import * as outbox from "./outbox.mjs";
import * as enrol from "./enrol.mjs";
import * as loc from "./location.mjs";
import * as signer from "./signer.mjs";
import * as visit from "./visit.mjs";
import * as ble from "./ble.mjs";
import { Relay, HEALTH_EVERY_MS } from "./relay.mjs";
import { fromHex, peek, T, verify, DOWNLINK } from "./frames.mjs";

const BASE = new URL("../../", import.meta.url).href; // the monitor that served this page
const $ = (id) => document.getElementById(id);
const TICK_MS = 1000;

const fob = new ble.Fob({ onFrame: (bytes) => fromFob(bytes) });
const relay = new Relay({ base: BASE, onAck: (dev, ack) => toFob(dev, ack), onDownlink: (item) => downlink(item) });

export const state = { fob, relay, outbox, loc, lastSos: null, help: null, wakeLock: null };
window.vigil = state; // for support and for the tests' assertions

// 1. Every frame from the fob is committed before anything else, then the relay is woken.
async function fromFob(bytes) {
  const h = peek(bytes);
  const where = (h.ftype <= 0x0b && [T.SOS, T.FALL, T.NO_MOTION, T.CHECKIN_OVERDUE, T.LOW_BATTERY, T.CHECKIN_START, T.CHECKIN_STOP].includes(h.ftype)) ? loc.fix() : null;
  const rec = await outbox.commit(bytes, { link: "ble", location: where });
  relay.kick();
  if (!where && rec.priority < 5) locateLater([rec.id]);
}

function locateLater(ids) {
  // No fix in hand: the frame has gone (or is queued) without one. If a fix arrives while it
  // is still waiting, it leaves with it.
  loc.refresh().then((f) => { if (f) outbox.attachLocation(ids, f); });
}

async function toFob(deviceId, frameHex) {
  await outbox.queueDownlink(deviceId, frameHex);
  deliver();
}

async function deliver() {
  if (!fob.connected) return;
  const { fresh } = await outbox.takeDownlinks();
  for (const d of fresh) {
    try { await fob.write(fromHex(d.frame)); await outbox.dropDownlink(d.id); } catch { return; }
  }
}

async function downlink(item) {
  const cred = await enrol.credential();
  if (cred && item.device_id === cred.device.id) {
    // For the phone itself: verify with its own key, then tell the worker.
    try {
      const f = await verify(fromHex(item.frame), await outbox.get("device_key"), DOWNLINK);
      if (f.ftype === T.ACK_HELP) { state.help = Date.now(); render(); }
    } catch { /* forged or corrupted: ignored */ }
    return;
  }
  await outbox.queueDownlink(item.device_id, item.frame, item.age_s || 0);
  deliver();
}

// 3. The phone's own SOS: signed, committed, relayed, all before any position is awaited.
async function sos() {
  const btn = $("sos");
  btn.disabled = true;
  try {
    const rec = await signer.sos(loc.fix());
    state.lastSos = { id: rec.id, counter: rec.counter, at: Date.now(), location: rec.location };
    relay.kick();
    if (!rec.location) locateLater([rec.id]);
    say("SOS sent to the monitor" + (rec.location ? " with your position." : "."), "alarm");
  } catch (e) {
    say("Could not raise the SOS: " + e.message, "error");
  } finally {
    btn.disabled = false;
    render();
  }
}

// Visits
async function startVisit(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const minutes = Number(f.get("minutes"));
  await loc.refresh().catch(() => null); // a visit may wait a moment for a fix; an alarm never does
  await visit.start({ where: String(f.get("where") || "").slice(0, 120), with: String(f.get("with") || "").slice(0, 120), minutes }, relay);
  await wakeLock();
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  render();
}

// The Screen Wake Lock held during a visit is state.wakeLock (null when not held).
async function wakeLock() {
  try {
    if ("wakeLock" in navigator && (await visit.current()) && !state.wakeLock) {
      const lock = await navigator.wakeLock.request("screen");
      state.wakeLock = lock;
      lock.addEventListener("release", () => { state.wakeLock = null; render(); });
    }
  } catch { state.wakeLock = null; }
}

async function tick() {
  const v = await visit.current();
  if (v && !v.reminded && Date.now() >= visit.remindAt(v)) {
    v.reminded = true;
    await outbox.set("visit", v);
    const text = `Your visit at ${v.where || "your visit"} is due soon. Tap "I'm safe" or extend it.`;
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification("Vigil: visit due soon", { body: text, tag: "vigil-visit" }); } catch { /* page notification not allowed: shown below */ }
    }
    if (navigator.vibrate) navigator.vibrate([300, 200, 300]);
    $("reminder").textContent = text;
    $("reminder").hidden = false;
  }
  if (v && !v.memo_sent) visit.sendMemo(relay);
  render();
}

// 6. Status, always visible, in words.
let waiting = 0;
async function render() {
  waiting = await outbox.count();
  const cred = await enrol.credential();
  const monitorWords = {
    reachable: "monitor reachable", unreachable: "monitor not reachable", overloaded: "monitor busy, retrying",
    refused: "phone refused by the monitor", unknown: "monitor: checking",
  }[relay.monitor];
  const fobWords = !ble.available() ? "no Bluetooth in this browser" : fob.connected ? "fob connected" : fob.device ? "fob not connected (reconnecting)" : "no fob paired";
  $("fob-state").textContent = fobWords;
  $("fob-state").dataset.ok = fob.connected;
  $("monitor-state").textContent = monitorWords;
  $("monitor-state").dataset.ok = relay.monitor === "reachable";
  $("waiting").textContent = waiting === 0 ? "nothing waiting" : `${waiting} waiting to send`;
  $("waiting").dataset.ok = waiting === 0;
  $("refused").hidden = relay.monitor !== "refused";
  $("refused").textContent = relay.monitor === "refused"
    ? `The monitor refused this phone (${relay.detail}). ${waiting} frame(s) are kept on the phone and will go as soon as it is allowed again. Ask your supervisor.`
    : "";
  $("who").textContent = cred ? `${cred.worker.name} · phone device ${cred.device.id}` : "not enrolled";
  $("enrol").hidden = !!cred;
  $("main").hidden = !cred;
  $("help").hidden = !state.help;
  const v = await visit.current();
  $("visit-form").hidden = !!v;
  $("visit-running").hidden = !v;
  if (v) {
    const left = Math.max(0, v.due_ms - Date.now());
    const h = Math.floor(left / 3600000), m = Math.floor((left % 3600000) / 60000), s = Math.floor((left % 60000) / 1000);
    $("countdown").textContent = `${h ? h + " h " : ""}${m} min ${String(s).padStart(2, "0")} s`;
    $("visit-where").textContent = v.where + (v.with ? ` with ${v.with}` : "");
    $("wakelock").textContent = state.wakeLock ? "screen kept on" : "keep this page open";
    if (!v.reminded) $("reminder").hidden = true;
  } else {
    $("reminder").hidden = true;
  }
  $("location-state").textContent = { granted: "location on", denied: "location refused: alarms go without a position", unavailable: "no location on this device", unknown: "" }[loc.permission];
}

function say(text, kind = "info") {
  const el = $("message");
  el.textContent = text;
  el.dataset.kind = kind;
}

async function enrolFromUrl() {
  const code = enrol.codeFromUrl();
  if (!code) return;
  history.replaceState(null, "", location.pathname); // the code is single-use: keep it out of history
  if (await enrol.credential()) { say("This phone is already enrolled."); return; }
  try {
    const ans = await enrol.redeem(code, BASE);
    say(`Enrolled for ${ans.worker.name}.`);
  } catch (e) {
    $("enrol-error").textContent = e.message;
    $("enrol-error").dataset.code = e.code;
  }
}

async function main() {
  $("sos").addEventListener("pointerdown", () => { if (!loc.fix()) loc.refresh(); });
  $("sos").addEventListener("click", sos);
  $("visit-form").addEventListener("submit", startVisit);
  $("safe").addEventListener("click", async () => { await visit.stop(relay); if (state.wakeLock) state.wakeLock.release(); say("Visit ended: you are checked out."); render(); });
  $("extend").addEventListener("click", async () => { await visit.extend(Number($("extend-min").value), relay); say("Visit extended."); render(); });
  $("pair").addEventListener("click", async () => {
    try { await fob.pair(); say("Fob connected."); } catch (e) { say("Pairing did not work: " + e.message, "error"); }
    render();
  });
  $("enrol-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { const a = await enrol.redeem(new FormData(ev.target).get("code"), BASE); say(`Enrolled for ${a.worker.name}.`); start(); }
    catch (e) { $("enrol-error").textContent = e.message; $("enrol-error").dataset.code = e.code; }
    render();
  });
  const sel = $("minutes"), ext = $("extend-min");
  for (const m of visit.PRESETS_MIN) {
    const label = m < 60 ? `${m} min` : `${m / 60} h`.replace(".5 h", " h 30");
    sel.add(new Option(label, m, m === 60, m === 60));
    ext.add(new Option(label, m, m === 30, m === 30));
  }
  outbox.onChange(() => render());
  relay.addEventListener("state", () => render());
  fob.addEventListener("state", () => { render(); deliver(); });
  window.addEventListener("online", () => relay.kick());
  window.addEventListener("offline", () => relay._state("unreachable", "this phone is offline"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { loc.refresh().then(render); wakeLock(); relay.kick(); }
  });
  // Chrome freezes a page left in the background (Page Lifecycle API). On "resume" send what
  // waited at once, rather than when a backoff timer set before the freeze happens to fire.
  document.addEventListener("resume", () => { relay.kick(); relay.pollDownlinks(); });
  if (!ble.available()) $("pair").hidden = true;
  if (!navigator.onLine) relay._state("unreachable", "this phone is offline");
  await enrolFromUrl();
  if (await enrol.credential()) start();
  render();
  setInterval(tick, TICK_MS);
  setInterval(async () => { if (await visit.current()) loc.refresh(); }, loc.FIX_REFRESH_MS);
  registerWorker();
}

let started = false;
function start() {
  if (started) return;
  started = true;
  loc.refresh().then(render);
  relay.kick();
  relay.pollDownlinks();
  fob.restore().catch(() => {});
  const health = async () => relay.health({
    links: fob.device ? [{ device_id: null, link: "ble", port: "web-bluetooth", connected: fob.connected }] : [],
    version: enrol.APP_VERSION, app_version: enrol.APP_VERSION, battery_pct: await signer.battery(),
  });
  health();
  setInterval(health, HEALTH_EVERY_MS);
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register("sw.js", { type: "module", scope: "./" });
    state.sw = reg;
    relay.addEventListener("failed", () => { if (reg.sync) reg.sync.register("vigil-outbox").catch(() => {}); });
  } catch (e) { /* the page works without it; only the offline shell is lost */ }
}

main();
