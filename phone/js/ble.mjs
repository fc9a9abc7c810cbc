// ble.mjs talks Web Bluetooth to the fob: pick it (requestDevice, filtered by the Vigil
// service), connect, subscribe to the frame characteristic, hand every frame to onFrame (which
// commits it to the outbox first), and write downlinks (acks, ACK_HELP, commands) back.
// Reconnects by itself: on disconnect, and on page open via getDevices() + watchAdvertisements()
// where the browser has them.
export const SERVICE = "7a6e0001-51c2-4b53-9b1e-5a1f0c1e7a11"; // firmware/ble_uuids.py
export const FRAMES = "7a6e0002-51c2-4b53-9b1e-5a1f0c1e7a11";
export const DOWNLINK = "7a6e0003-51c2-4b53-9b1e-5a1f0c1e7a11";
export const RECONNECT_FIRST_MS = 250; // as the gateway's RETRY_TIMEOUT_S, doubling
export const RECONNECT_CAP_MS = 10000;

export const available = () => !!(navigator.bluetooth && navigator.bluetooth.requestDevice);

export class Fob extends EventTarget {
  constructor({ onFrame }) {
    super();
    this.onFrame = onFrame;
    this.device = null;
    this.downlink = null;
    this.connected = false;
    this.dropped = 0; // bad frames from the link, counted
    this._tries = 0;
    this._writing = Promise.resolve();
  }

  _set(connected) {
    this.connected = connected;
    this.dispatchEvent(new Event("state"));
  }

  async pair() {
    const device = await navigator.bluetooth.requestDevice({ filters: [{ services: [SERVICE] }] });
    await this.use(device);
  }

  // A fob this origin was already given: reconnect without the worker doing anything.
  async restore() {
    if (!navigator.bluetooth || !navigator.bluetooth.getDevices) return false;
    const devices = await navigator.bluetooth.getDevices();
    if (!devices.length) return false;
    const device = devices[0];
    if (device.watchAdvertisements) {
      device.addEventListener("advertisementreceived", () => { if (!this.connected) this.use(device).catch(() => {}); }, { once: true });
      try { await device.watchAdvertisements(); } catch { /* not supported here: try directly */ }
    }
    this.use(device).catch(() => this._retry());
    return true;
  }

  async use(device) {
    if (this.device !== device) {
      this.device = device;
      device.addEventListener("gattserverdisconnected", () => { this._set(false); this._retry(); });
    }
    const server = await device.gatt.connect();
    const service = await server.getPrimaryService(SERVICE);
    const frames = await service.getCharacteristic(FRAMES);
    this.downlink = await service.getCharacteristic(DOWNLINK);
    // Assigned, not added: a reconnection may hand back the same characteristic object, and a
    // second listener would commit every frame twice.
    frames.oncharacteristicvaluechanged = (e) => this._frame(e.target.value);
    await frames.startNotifications();
    this.frames = frames;
    this._tries = 0;
    this._set(true);
  }

  async _frame(view) {
    const bytes = new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
    try {
      await this.onFrame(bytes);
    } catch {
      this.dropped += 1; // not a Vigil uplink: dropped and counted, as the gateway does
    }
  }

  _retry() {
    if (!this.device) return;
    const ms = Math.min(RECONNECT_CAP_MS, RECONNECT_FIRST_MS * 2 ** Math.min(this._tries++, 10));
    setTimeout(() => { if (!this.connected) this.use(this.device).catch(() => this._retry()); }, ms);
  }

  // One write at a time: GATT allows a single outstanding operation.
  write(bytes) {
    const p = this._writing.then(async () => {
      if (!this.connected || !this.downlink) throw new Error("fob not connected");
      await this.downlink.writeValueWithResponse(bytes);
    });
    this._writing = p.catch(() => {});
    return p;
  }
}
