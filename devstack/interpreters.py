"""Run device code on real MicroPython (the WebAssembly port under Node.js) or on CPython.

Both implementations expose the same three calls, so one test body holds both interpreters to the
same assertions:

- ``exec(code)``: run statements in the interpreter's persistent namespace;
- ``eval(expr)``: evaluate an expression and return its value (bytes, ints, lists, dicts...);
- ``call("pkg.module:func", *args)``: call a function with JSON-able or bytes arguments.

An exception inside device code is raised here as ``DeviceError`` carrying the class name, since
class identity cannot cross the interpreter boundary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "mpy" / "runner.mjs"
RPC = Path(__file__).resolve().parent / "mpy" / "rpc.py"
DEVICE_DIRS = ("protocol", "firmware", "hardware")
_RESULT = "\x02"


class DeviceError(Exception):
    """An exception raised by device code; ``kind`` is its class name there."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class HarnessError(RuntimeError):
    """The interpreter itself failed (syntax error, crash, Node.js missing)."""


def _load_rpc() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("vigil_rpc", RPC)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Interpreter:
    name = "abstract"

    def exec(self, code: str) -> list[str]:
        raise NotImplementedError

    def _result(self, code: str) -> Any:
        raise NotImplementedError

    def eval(self, expr: str) -> Any:
        return self._result(f"vigil_rpc.emit(vigil_rpc.run(lambda: ({expr})))")

    def call(self, path: str, *args: Any) -> Any:
        payload = json.dumps(self._rpc.enc(list(args)), ensure_ascii=False)
        return self._result(f"vigil_rpc.emit(vigil_rpc.call({path!r}, {payload!r}))")

    def _unwrap(self, text: str) -> Any:
        reply = json.loads(text)
        if "exc" in reply:
            raise DeviceError(*reply["exc"])
        return self._rpc.dec(reply["ok"])

    _rpc: Any = _load_rpc()


class CPython(Interpreter):
    """Device code in this process, in a namespace of its own."""

    name = "cpython"

    def __init__(self) -> None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        self._ns: dict[str, Any] = {"vigil_rpc": self._rpc}
        self._printed: list[str] = []

    def exec(self, code: str) -> list[str]:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, "<device>", "exec"), self._ns)
        return buf.getvalue().splitlines()

    def _result(self, code: str) -> Any:
        lines = self.exec(code)
        return self._unwrap(lines[-1][len(_RESULT) :])


class MicroPython(Interpreter):
    """A long-lived Node.js process running the MicroPython WebAssembly port."""

    name = "micropython"

    def __init__(self, dirs: tuple[str, ...] = DEVICE_DIRS, heap: int = 1024 * 1024) -> None:
        node = shutil.which("node")
        if node is None:
            raise HarnessError("Node.js is required to run MicroPython (install nodejs)")
        if not (ROOT / "node_modules" / "@micropython").is_dir():
            raise HarnessError("MicroPython WebAssembly port missing: run `npm ci` at the root")
        paths = [str(ROOT / d) for d in dirs if (ROOT / d).is_dir()] + [str(RPC)]
        self._proc = subprocess.Popen(
            [node, str(RUNNER), "--heap", str(heap), *paths],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        first = self._readline()
        if not json.loads(first).get("ready"):
            raise HarnessError(f"MicroPython runner did not start: {first}")
        self.exec("import rpc as vigil_rpc")

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise HarnessError(f"MicroPython runner exited with {self._proc.wait()}")
        return line

    def exec(self, code: str) -> list[str]:
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(json.dumps({"code": code}) + "\n")
            self._proc.stdin.flush()
            reply = json.loads(self._readline())
        if reply["error"]:
            raise HarnessError(reply["error"])
        out: list[str] = reply["out"]
        return out

    def _result(self, code: str) -> Any:
        lines = self.exec(code)
        results = [ln for ln in lines if ln.startswith(_RESULT)]
        if not results:
            raise HarnessError(f"no result from MicroPython; printed: {lines}")
        return self._unwrap(results[-1][len(_RESULT) :])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
