# Calls into device code and returns results as one JSON line; the same file runs on MicroPython
# (copied into the WebAssembly port's /lib) and on CPython, so both interpreters are held to the
# same encoding of results and errors.
import json

_RESULT = "\x02"


def enc(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__b": bytes(obj).hex()}
    if isinstance(obj, (list, tuple)):
        return [enc(x) for x in obj]
    if isinstance(obj, dict):
        return {"__d": [[enc(k), enc(v)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "as_dict"):
        return enc(obj.as_dict())
    return {"__r": repr(obj)}


def dec(obj):
    if isinstance(obj, list):
        return [dec(x) for x in obj]
    if isinstance(obj, dict):
        if "__b" in obj:
            return bytes.fromhex(obj["__b"])
        if "__d" in obj:
            return {dec(k): dec(v) for k, v in obj["__d"]}
        return {k: dec(v) for k, v in obj.items()}
    return obj


def resolve(path):
    # "package.module:attr.attr" -> object
    mod_name, _, attr = path.partition(":")
    mod = __import__(mod_name)
    for part in mod_name.split(".")[1:]:
        mod = getattr(mod, part)
    obj = mod
    for part in attr.split("."):
        if part:
            obj = getattr(obj, part)
    return obj


def run(thunk):
    # Returns the JSON text of {"ok": value} or {"exc": [type name, message]}.
    try:
        return json.dumps({"ok": enc(thunk())})
    except Exception as e:  # report every failure to the test, typed by class name
        return json.dumps({"exc": [type(e).__name__, str(e)]})


def call(path, args_json):
    args = dec(json.loads(args_json))
    return run(lambda: resolve(path)(*args))


def emit(text):
    print(_RESULT + text)
