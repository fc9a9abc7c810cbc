// The phone's position, for alarms and check-ins only. An alarm never waits for a fix: it takes
// the fix already in hand (if any, with its age), goes at once, and a fresh fix that arrives
// while the frame is still waiting in the outbox (no network) is attached before it leaves.
//
// A fix is asked for when the page is opened or brought back to the screen, when the SOS button
// is touched, and every FIX_REFRESH_MS during a visit. It stays on the phone; it is sent only
// with an alarm or a check-in, never with heartbeats, never as a track.
export const FIX_TIMEOUT_MS = 4000; // the most a fix request may take before we give up on it
export const FIX_MAX_AGE_MS = 10 * 60 * 1000; // older than this, a fix is not worth sending
export const FIX_REFRESH_MS = 60 * 1000; // during a visit, so an overdue alarm has a recent fix
export const SOURCE = "phone_gps";

let inHand = null; // {lat, lon, accuracy_m, at_ms}
let asking = null;
export let permission = "unknown"; // granted | denied | unavailable | unknown

export function fix() {
  if (!inHand || Date.now() - inHand.at_ms > FIX_MAX_AGE_MS) return null;
  return {
    lat: inHand.lat,
    lon: inHand.lon,
    accuracy_m: inHand.accuracy_m,
    source: SOURCE,
    fix_age_s: Math.max(0, Math.round((Date.now() - inHand.at_ms) / 1000)),
  };
}

// Ask for a fresh fix; resolves with it or null (refused, timed out, no GPS). Never throws.
export function refresh() {
  if (!("geolocation" in navigator)) { permission = "unavailable"; return Promise.resolve(null); }
  if (asking) return asking;
  asking = new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => {
        permission = "granted";
        inHand = {
          lat: p.coords.latitude,
          lon: p.coords.longitude,
          accuracy_m: Math.round(p.coords.accuracy),
          at_ms: Math.min(Date.now(), p.timestamp || Date.now()),
        };
        resolve(fix());
      },
      (e) => {
        if (e.code === e.PERMISSION_DENIED) permission = "denied";
        resolve(null);
      },
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 0 },
    );
  }).finally(() => { asking = null; });
  return asking;
}
