# A simulated SIM800-style GSM modem on a real pseudo-terminal, for the SMS-by-modem channel.
# The monitor opens `path` with pyserial exactly as it would /dev/ttyUSB2. It answers as the
# SIM800 Series AT Command Manual (v1.09) says for text-mode SMS:
#   AT / ATE0 / ATE1 / AT+CMGF=<0|1> / AT+CMGF? / AT+CREG?  -> OK (or the value, then OK)
#   AT+CMGS="<da>"  -> "\r\n> " after prompt_delay_s (a busy modem is slow to prompt)
#   <text> Ctrl-Z   -> "+CMGS: <mr>" OK, or "+CMS ERROR: <n>" (30 unknown subscriber for a
#                      number in `unknown`; 331 no network service while network is False)
#   <text> ESC      -> the message is abandoned, OK
#   AT+CMGS in PDU mode (CMGF=0) with a quoted number -> "+CMS ERROR: 304" (invalid PDU param)
#   anything else   -> ERROR
# Echo is on at power-up, as on the real part. CPython only (a test and bench fixture).
import os
import re
import select
import threading
import time
import tty

CTRL_Z = 0x1A
ESC = 0x1B
_CMGS = re.compile(r'AT\+CMGS="([^"]*)"', re.IGNORECASE)


class GsmModem:
    def __init__(self, prompt_delay_s=0.0, network=True, unknown=()):
        master, slave = os.openpty()
        tty.setraw(slave)  # a UART carries bytes: no echo, no line editing, no signals
        tty.setraw(master)
        self._master = master
        self._slave = slave  # held open so the master never sees EIO between sessions
        self.path = os.ttyname(slave)
        self.prompt_delay_s = prompt_delay_s
        self.network = network
        self.unknown = set(unknown)
        self.sent = []  # (number, text) for each message the "network" accepted
        self.commands = []  # every command line received, for tests to read
        self.echo = True
        self.text_mode = False
        self._reference = 0  # <mr>, the message reference, as the modem numbers them
        self._line = b""
        self._number = None  # set while collecting a message's text
        self._text = b""
        self._prompted = False
        self._session = 0  # counts AT+CMGS commands
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        os.close(self._master)
        os.close(self._slave)

    # -- the wire ------------------------------------------------------------------------

    def _write(self, data):
        try:
            os.write(self._master, data)
        except OSError:
            pass  # nobody has the port open: the bytes are lost, as on a real UART

    def _reply(self, *lines):
        self._write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    def _run(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                time.sleep(0.05)  # the other end closed; wait for the next session
                continue
            for b in data:
                self._byte(b)

    def _byte(self, b):
        if self._number is not None:
            self._text_byte(b)
            return
        if self.echo:
            self._write(bytes([b]))
        if b == 0x0D:
            line, self._line = self._line.decode(errors="replace").strip(), b""
            if line:
                self._command(line)
        elif b != 0x0A:
            self._line += bytes([b])

    def _text_byte(self, b):
        if b == ESC:  # abandons the message, prompted or not
            self._number, self._text, self._prompted = None, b"", False
            self._reply("OK")
            return
        if not self._prompted:
            return  # typed before the prompt: a real modem drops it too
        if b == CTRL_Z:
            number, text = self._number, self._text.decode(errors="replace")
            self._number, self._text, self._prompted = None, b"", False
            self._submit(number, text)
        else:
            if self.echo:
                self._write(bytes([b]))
            self._text += bytes([b])

    # -- the commands --------------------------------------------------------------------

    def _command(self, line):
        self.commands.append(line)
        upper = line.upper()
        if upper == "AT":
            self._reply("OK")
        elif upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            self._reply("OK")
        elif upper in ("AT+CMGF=0", "AT+CMGF=1"):
            self.text_mode = upper.endswith("1")
            self._reply("OK")
        elif upper == "AT+CMGF?":
            self._reply("+CMGF: %d" % int(self.text_mode), "OK")
        elif upper == "AT+CREG?":
            self._reply("+CREG: 0,%d" % (1 if self.network else 2), "OK")
        elif _CMGS.fullmatch(line):
            if not self.text_mode:
                self._reply("+CMS ERROR: 304")
                return
            self._number = _CMGS.fullmatch(line).group(1)
            self._session += 1
            threading.Timer(self.prompt_delay_s, self._prompt, (self._session,)).start()
        else:
            self._reply("ERROR")

    def _prompt(self, session):
        # A late prompt for a message since abandoned must not open the next one early.
        if self._number is not None and session == self._session:
            self._prompted = True
            self._write(b"\r\n> ")

    def _submit(self, number, text):
        if not self.network:
            self._reply("+CMS ERROR: 331")  # no network service
        elif number in self.unknown:
            self._reply("+CMS ERROR: 30")  # unknown subscriber
        else:
            self._reference = (self._reference + 1) % 256
            self.sent.append((number, text))
            self._reply("+CMGS: %d" % self._reference, "OK")


if __name__ == "__main__":
    modem = GsmModem(prompt_delay_s=0.5)
    print(modem.path, flush=True)  # point VIGIL_SMS_MODEM_PORT at this
    try:
        while True:
            time.sleep(1)
            for number, text in modem.sent:
                print("SMS to", number, ":", text, flush=True)
            modem.sent.clear()
    except KeyboardInterrupt:
        modem.close()
