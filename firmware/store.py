# Flash as a directory of small files, each written whole with write-then-rename.
#
# A power cut mid-write leaves either the old file or a ".tmp" beside it, never a torn record:
# readers ignore ".tmp" files and callers checksum their records too, because some flash file
# systems (FAT) cannot rename over an existing file and we must remove first there.
import os

_TMP = ".tmp"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Store:
    def __init__(self, root):
        self.root = root
        self.writes = 0
        _mkdirs(root)

    def path(self, name):
        return self.root + "/" + name

    def write(self, name, data):
        p = self.path(name)
        tmp = p + _TMP
        self._write_file(tmp, data)
        try:
            self._rename(tmp, p)
        except OSError:
            # FAT: rename does not replace; the ".tmp" is recovered by read() if we stop here.
            self._remove(p)
            self._rename(tmp, p)
        self.writes += 1

    def read(self, name):
        p = self.path(name)
        for candidate in (p, p + _TMP):
            try:
                with open(candidate, "rb") as f:
                    return f.read()
            except OSError:
                pass
        return None

    def remove(self, name):
        p = self.path(name)
        for candidate in (p, p + _TMP):
            if _exists(candidate):
                self._remove(candidate)

    def names(self, prefix):
        # Committed records only, sorted; stray ".tmp" files of interrupted writes are skipped.
        out = []
        for n in os.listdir(self.root):
            if n.startswith(prefix) and not n.endswith(_TMP):
                out.append(n)
        out.sort()
        return out

    def clean(self, prefix):
        # Drop ".tmp" leftovers of a write a power cut interrupted (the record was never committed).
        for n in os.listdir(self.root):
            if n.startswith(prefix) and n.endswith(_TMP):
                self._remove(self.path(n))

    # The three primitives a simulated flash overrides to inject power cuts.
    def _write_file(self, path, data):
        with open(path, "wb") as f:
            f.write(data)

    def _rename(self, src, dst):
        os.rename(src, dst)

    def _remove(self, path):
        os.remove(path)


def _mkdirs(path):
    parts = path.split("/")
    cur = ""
    for i in range(len(parts)):
        part = parts[i]
        if not part:
            if i == 0:
                cur = "/"
            continue
        cur = part if cur == "" else (cur + part if cur.endswith("/") else cur + "/" + part)
        if not _exists(cur):
            os.mkdir(cur)
