# What the fob tells people: patterns for the worker (covert mode respected), log lines for the
# engineer on every link that takes them, trace events for the simulator and tests. Every part of
# the fob reports through one Report, so none of them needs to call back into fob.py.
from protocol.const import const

_LOG_LINES = const(16)  # kept in RAM for the status read-out; older lines are dropped


class Report:
    def __init__(self, feedback, config, links, store, trace=None):
        self.feedback = feedback
        self._config = config
        self._links = links  # the fob's own list: links attached later log too
        self._store = store
        self.trace = trace  # observer: trace(event_name, dict); None on the device
        self.lines = []

    def play(self, name):
        self.feedback.play(name, bool(self._config["covert"]))

    def log(self, text):
        lines = self.lines
        lines.append(text)
        if len(lines) > _LOG_LINES:
            lines.pop(0)
        for link in self._links:
            if hasattr(link, "log"):
                link.log(text)
        self.emit("log", {"message": text})

    def emit(self, name, data):
        if self.trace is not None:
            self.trace(name, data)

    # A flash file that cannot be written or removed is logged, never raised: the fob keeps
    # raising alarms with what it has in RAM.
    def write(self, name, data):
        try:
            self._store.write(name, data)
        except OSError as e:
            self.log("flash write of %s failed: %r" % (name, e))

    def remove(self, name):
        try:
            self._store.remove(name)
        except OSError as e:
            self.log("flash remove of %s failed: %r" % (name, e))
