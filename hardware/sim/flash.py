# Flash as a directory, with power cuts injected between (or inside) file operations.
from firmware.store import Store


class PowerCut(Exception):
    # Raised from inside a flash write: the fob stops dead here, as if the supply vanished.
    pass


class SimFlash(Store):
    def __init__(self, root):
        Store.__init__(self, root)
        self.cut_after = -1  # operations left before the cut; -1 never
        self.ops = 0
        self.full = False  # True: every write fails with ENOSPC, like a full file system

    def _tick(self):
        self.ops += 1
        if self.cut_after == 0:
            self.cut_after = -1
            return True
        if self.cut_after > 0:
            self.cut_after -= 1
        return False

    def _write_file(self, path, data):
        if self.full:
            raise OSError(28)  # ENOSPC
        if self._tick():
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])  # torn write
            raise PowerCut()
        Store._write_file(self, path, data)

    def _rename(self, src, dst):
        if self._tick():
            raise PowerCut()
        Store._rename(self, src, dst)

    def _remove(self, path):
        if self._tick():
            raise PowerCut()
        Store._remove(self, path)
