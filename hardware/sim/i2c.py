# A simulated I2C bus with MPU-6050 / MPU-6886 register models, so the drivers are tested
# against registers that behave like the datasheets: reset values, sleep after reset, the
# full-scale setting applied to the data registers, the sample rate from DLPF and SMPLRT_DIV.
# Speaks the subset of machine.I2C the drivers use; a missing device raises OSError(ENODEV).
import struct

_ENODEV = 19


class SimMpu:
    WHO = 0x68
    PWR_RESET = 0x40  # SLEEP set after power-on/reset

    def __init__(self, motion):
        self.motion = motion  # callable -> (x, y, z) in milli-g
        self.resets = 0
        self.reset()

    def reset(self):
        self.regs = bytearray(128)
        self.regs[0x6B] = self.PWR_RESET
        self.regs[0x75] = self.WHO
        self.resets += 1

    @property
    def asleep(self):
        return bool(self.regs[0x6B] & 0x40)

    def full_scale_g(self):
        return 2 << ((self.regs[0x1C] >> 3) & 3)

    def rate_hz(self):
        dlpf = self.regs[0x1A] & 7
        internal = 8000 if dlpf in (0, 7) else 1000
        return internal // (1 + self.regs[0x19])

    def write(self, reg, data):
        for i in range(len(data)):
            r = reg + i
            v = data[i]
            if r == 0x6B and v & 0x80:
                self.reset()
                continue
            if r == 0x75:
                continue  # read-only
            self.regs[r] = v

    def read(self, reg, n):
        if not self.asleep:
            lsb = 32768 // self.full_scale_g()
            vals = []
            for mg in self.motion():
                raw = mg * lsb // 1000
                vals.append(max(-32768, min(32767, raw)))  # the ADC saturates at full scale
            struct.pack_into(">hhh", self.regs, 0x3B, vals[0], vals[1], vals[2])
        else:
            struct.pack_into(">hhh", self.regs, 0x3B, 0, 0, 0)
        return bytes(self.regs[reg : reg + n])


class SimMpu6050(SimMpu):
    WHO = 0x68
    PWR_RESET = 0x40


class SimMpu6886(SimMpu):
    WHO = 0x19
    PWR_RESET = 0x41


class SimI2C:
    def __init__(self):
        self.devices = {}

    def attach(self, addr, device):
        self.devices[addr] = device

    def _dev(self, addr):
        d = self.devices.get(addr)
        if d is None:
            raise OSError(_ENODEV)
        return d

    def scan(self):
        return sorted(self.devices)

    def readfrom_mem(self, addr, reg, n):
        return self._dev(addr).read(reg, n)

    def readfrom_mem_into(self, addr, reg, buf):
        data = self._dev(addr).read(reg, len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]

    def writeto_mem(self, addr, reg, buf):
        self._dev(addr).write(reg, bytes(buf))
