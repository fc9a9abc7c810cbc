// Enrolment: the QR from the console opens /phone/#code=XXXX. The page redeems the code once
// (POST /v1/phones/redeem) and keeps what it gets: the phone's gateway credential, scoped to
// the worker, and the phone's own device id and key, the key imported as a non-extractable
// CryptoKey so the hex never stays anywhere.
import * as outbox from "./outbox.mjs";
import { fromHex, hmacKey } from "./frames.mjs";

export const APP_VERSION = "phone-0.1.0";

const MESSAGES = {
  enrolment_unknown: "This code is not known. Check it, or ask for a new QR code.",
  enrolment_expired: "This code has expired (codes last 15 minutes). Ask for a new QR code.",
  enrolment_used: "This code has already been used. Ask for a new QR code.",
  throttled: "Too many tries from here. Wait a few minutes, then try again.",
};

export class EnrolError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

export function codeFromUrl(href = location.href) {
  const hash = new URL(href).hash.replace(/^#/, "");
  return new URLSearchParams(hash).get("code");
}

// Keep a credential: what redeem answers with. Also used by tests to enrol with a seeded token
// (host_tests/phone/conftest.py says so).
export async function store(answer) {
  const key = await hmacKey(fromHex(answer.device.key), false);
  await outbox.set("device_key", key);
  await outbox.set("credential", {
    gateway_token: answer.gateway_token,
    gateway_id: answer.gateway_id,
    worker: answer.worker,
    device: { id: answer.device.id },
    enrolled_at: new Date().toISOString(),
  });
}

export async function redeem(code, base, name = null) {
  let r;
  try {
    r = await fetch(new URL("v1/phones/redeem", base), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: code.trim(), app_version: APP_VERSION, name }),
    });
  } catch {
    throw new EnrolError("offline", "No connection to the monitor. Connect to the internet and open the link again.");
  }
  let body = {};
  try { body = await r.json(); } catch { /* not JSON */ }
  if (r.status !== 201) {
    const code_ = body.error || `http_${r.status}`;
    throw new EnrolError(code_, MESSAGES[code_] || body.message || `The monitor refused the code (${r.status}).`);
  }
  await store(body);
  return body;
}

export const credential = () => outbox.get("credential");
