// The service worker keeps the page's shell so it opens with no network, and flushes the outbox
// on Background Sync where the browser has it. It never caches the API: frames and answers go
// to the monitor or wait in IndexedDB, never in a cache.
import { Relay } from "./js/relay.mjs";
import { count } from "./js/outbox.mjs";

const SHELL_CACHE = "vigil-phone-shell-v2"; // a new name when the list changes: the old one is dropped
const SHELL = [
  "./", "index.html", "app.css", "manifest.webmanifest", "icon.svg", "icon-maskable.svg",
  "js/app.mjs", "js/ble.mjs", "js/enrol.mjs", "js/frames.mjs", "js/location.mjs",
  "js/outbox.mjs", "js/relay.mjs", "js/relay_batch.mjs", "js/signer.mjs", "js/visit.mjs",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== SHELL_CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

// Network first, so a new version is picked up at once; the cached shell when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const scope = new URL(self.registration.scope);
  if (!url.pathname.startsWith(scope.pathname)) return; // the API is never cached
  event.respondWith((async () => {
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok) (await caches.open(SHELL_CACHE)).put(event.request, fresh.clone());
      return fresh;
    } catch (e) {
      const hit = await caches.match(event.request, { ignoreSearch: true })
        || (event.request.mode === "navigate" ? await caches.match("index.html") : undefined);
      if (hit) return hit;
      throw e;
    }
  })());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "vigil-outbox") {
    const relay = new Relay({ base: new URL("..", self.registration.scope).href });
    event.waitUntil(relay.kick().then(async () => {
      // Let the sync be retried by the browser if frames are still waiting.
      if ((await count()) > 0) throw new Error("frames still waiting");
    }));
  }
});
