// The MicroPython WebAssembly port's REPL on stdin/stdout, byte for byte, so a pseudo-terminal
// bridge can present it to mpremote as if it were a board on a serial port.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const mp = await loadMicroPython({
  heapsize: 512 * 1024,
  linebuffer: false,
  stdout: (data) => process.stdout.write(Buffer.from(data)),
});
try { mp.FS.mkdir("/flash"); } catch (e) { /* exists */ }
// The port raises OSError with Emscripten's errno numbers (ENOENT is 44, not 2), so tools that
// read the error, as mpremote does to tell "no such file" from a failure, misread them. Map them
// back to MicroPython's numbers, as a board reports them.
mp.runPython(`
def _install():
    import os, builtins
    # Emscripten's number -> the POSIX number a board uses (ENOENT, EEXIST, ENOTDIR, EISDIR,
    # ENOTEMPTY, EINVAL, EACCES); the port's errno module lacks some names, so numbers it is.
    ems = {44: 2, 20: 17, 54: 20, 31: 21, 55: 39, 28: 22, 2: 13}

    def remap(fn):
        def call(*a):
            try:
                return fn(*a)
            except OSError as e:
                if e.errno in ems:
                    raise OSError(ems[e.errno])
                raise
        return call

    for n in ("stat", "listdir", "ilistdir", "remove", "mkdir", "rmdir", "rename", "chdir", "statvfs"):
        if hasattr(os, n):
            setattr(os, n, remap(getattr(os, n)))
    builtins.open = remap(builtins.open)
_install()
del _install
`);
mp.replInit();
let raw = false;
let pending = [];
let queue = Promise.resolve();
function feed(c) {
  // Raw-paste mode (Ctrl-E 'A' Ctrl-A) is broken in the port's event-driven REPL: it answers
  // "R\x01", a window size, then at once "\x04" (abrupt end) and never runs the code. Answer as
  // a board without raw-paste does ("R\x00"), so mpremote falls back to the plain raw REPL.
  if (raw && (pending.length || c === 0x05)) {
    pending.push(c);
    const p = pending.join(",");
    if (p === "5,65,1") { pending = []; process.stdout.write("R\x00"); return; }
    if (p === "5" || p === "5,65") return;
    const held = pending;
    pending = [];
    for (const h of held) feedRepl(h);
    return;
  }
  feedRepl(c);
}
function feedRepl(c) {
  if (c === 0x01) raw = true;
  if (c === 0x02) raw = false;
  // Non-zero: the REPL asked for a soft reset (Ctrl-D on an empty line). A board reboots its VM
  // and comes back in the same REPL mode; the port cannot restart its VM in place, so we say
  // what a board says, clear the user's names, and re-initialise the REPL.
  if (mp.replProcessChar(c) !== 0) {
    process.stdout.write("MPY: soft reboot\r\n");
    mp.runPython("import sys\nfor k in [k for k in globals() if not k.startswith('__')]: del globals()[k]");
    mp.replInit();  // stays in raw mode if it was: prints the raw REPL banner itself
  }
}
process.stdin.on("data", (chunk) => {
  queue = queue.then(() => { for (const c of chunk) feed(c); });
});
process.stdin.on("end", () => process.exit(0));
