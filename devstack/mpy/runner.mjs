// Runs Python on the official MicroPython WebAssembly port, as a long-lived child of pytest.
//
// usage: node runner.mjs [--heap BYTES] DIR...   (each DIR's .py files are copied to /lib/<name>)
// Protocol: one JSON object per stdin line {"code": "..."}; one JSON line per request on
// stdout {"out": [lines printed], "error": "traceback or null"}. State persists between requests,
// so a test can import modules once and call into them many times (hypothesis needs that).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

const args = process.argv.slice(2);
let heapsize = 1024 * 1024;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--heap") heapsize = parseInt(args[++i], 10);
  else dirs.push(args[i]);
}

let lines = [];
const mp = await loadMicroPython({
  heapsize,
  stdout: (l) => lines.push(l),
  stderr: (l) => lines.push(l),
});

function copyTree(src, dst) {
  try { mp.FS.mkdir(dst); } catch (e) { /* exists */ }
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, entry.name);
    const d = dst + "/" + entry.name;
    if (entry.isDirectory() && entry.name !== "__pycache__") copyTree(s, d);
    else if (entry.isFile() && entry.name.endsWith(".py")) mp.FS.writeFile(d, fs.readFileSync(s));
  }
}
try { mp.FS.mkdir("/lib"); } catch (e) { /* exists */ }
for (const dir of dirs) {
  const st = fs.statSync(dir);
  if (st.isDirectory()) copyTree(dir, "/lib/" + path.basename(dir));
  else mp.FS.writeFile("/lib/" + path.basename(dir), fs.readFileSync(dir));
}
mp.runPython("import sys\nif '/lib' not in sys.path: sys.path.append('/lib')");

const rl = readline.createInterface({ input: process.stdin, terminal: false });
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
for await (const line of rl) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  lines = [];
  let error = null;
  try {
    mp.runPython(req.code);
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  process.stdout.write(JSON.stringify({ out: lines, error }) + "\n");
}
