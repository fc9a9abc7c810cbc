// Visits ("amber alert"): CHECKIN_START with the duration starts the monitor's timer, which
// raises checkin_overdue even if this phone dies or loses signal; CHECKIN_STOP ends it; an
// extension is a new CHECKIN_START. The memo (where, who with) goes to POST /v1/phones/visit.
import * as outbox from "./outbox.mjs";
import * as signer from "./signer.mjs";
import * as loc from "./location.mjs";

export const PRESETS_MIN = [5, 15, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720]; // 5 min .. 12 h
export const REMIND_BEFORE_MS = 5 * 60 * 1000; // the monitor's VISIT_REMIND_BEFORE: buzz the fob too
export const MIN_REMIND_LEAD_MS = 60 * 1000; // a 5-minute visit is reminded 1 minute before

export const current = () => outbox.get("visit");

export function remindAt(visit) {
  const span = visit.due_ms - visit.started_ms;
  const lead = span > REMIND_BEFORE_MS ? REMIND_BEFORE_MS : Math.min(MIN_REMIND_LEAD_MS, span / 2);
  return visit.due_ms - lead;
}

export async function start({ where, with: withWhom, minutes }, relay) {
  const rec = await signer.checkinStart(minutes, loc.fix());
  const now = Date.now();
  const visit = { where, with: withWhom || null, minutes, started_ms: now, due_ms: now + minutes * 60000,
    reminded: false, memo_sent: false, device_id: rec.device_id };
  await outbox.set("visit", visit);
  relay.kick();
  await sendMemo(relay);
  return visit;
}

export async function sendMemo(relay) {
  const v = await current();
  if (!v || v.memo_sent) return;
  const r = await relay.call("v1/phones/visit", { device_id: v.device_id, where: v.where, with: v.with });
  if (r && r.ok) { v.memo_sent = true; await outbox.set("visit", v); }
}

export async function extend(minutes, relay) {
  const v = await current();
  if (!v) return null;
  await signer.checkinStart(minutes, loc.fix());
  const now = Date.now();
  Object.assign(v, { minutes, started_ms: now, due_ms: now + minutes * 60000, reminded: false });
  await outbox.set("visit", v);
  relay.kick();
  return v;
}

export async function stop(relay) {
  await signer.checkinStop(loc.fix());
  await outbox.del("visit");
  relay.kick();
}
