# Register-level driver shared by the InvenSense MPU-6050 and MPU-6886 (same register layout
# for everything the fob uses). i2c is a machine.I2C, or hardware.sim.i2c.SimI2C on the host.
import struct

from protocol.const import const

SMPLRT_DIV = const(0x19)
CONFIG = const(0x1A)
ACCEL_CONFIG = const(0x1C)
ACCEL_XOUT_H = const(0x3B)
PWR_MGMT_1 = const(0x6B)
WHO_AM_I = const(0x75)

FS_8G = const(0x10)  # ACCEL_CONFIG FS_SEL = 2: +-8 g, 4096 LSB/g (a fall peaks at 3-6 g)
LSB_PER_G = const(4096)
DEVICE_RESET = const(0x80)
CLK_PLL = const(0x01)  # wake, clock from the gyro PLL (better than the internal oscillator)
RATE_DIV_50HZ = const(19)  # 1 kHz internal rate with the DLPF on, / (1 + 19) = 50 Hz
ADDRESS = const(0x68)


class SensorMissing(OSError):
    # No device, or the wrong one, at the address: reported in heartbeats, never a crash.
    pass


class Mpu:
    WHO = ()  # WHO_AM_I values this chip may answer
    DLPF = 0

    def __init__(self, i2c, addr=ADDRESS, sleep_ms=None):
        self._i2c = i2c
        self._addr = addr
        self._buf = bytearray(6)  # preallocated: read() runs 50 times a second
        self._one = bytearray(1)
        self._sleep_ms = sleep_ms
        self.ok = False

    def _w(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._one)

    def _r(self, reg):
        self._i2c.readfrom_mem_into(self._addr, reg, self._one)
        return self._one[0]

    def _pause(self, ms):
        if self._sleep_ms is not None:
            self._sleep_ms(ms)

    def init(self):
        # Raises SensorMissing; callers keep running without motion detection.
        self.ok = False
        try:
            who = self._r(WHO_AM_I)
        except OSError:
            raise SensorMissing("no IMU answers at 0x%02x" % self._addr)
        if who not in self.WHO:
            raise SensorMissing("IMU at 0x%02x is 0x%02x, not %s" % (self._addr, who, self.NAME))
        self._w(PWR_MGMT_1, DEVICE_RESET)
        self._pause(100)  # the datasheet's reset time
        self._w(PWR_MGMT_1, CLK_PLL)
        self._pause(10)
        self._w(CONFIG, self.DLPF)
        self._w(SMPLRT_DIV, RATE_DIV_50HZ)
        self._w(ACCEL_CONFIG, FS_8G)
        self.configure()
        if self._r(ACCEL_CONFIG) & 0x18 != FS_8G:
            raise SensorMissing("%s did not take the +-8 g setting" % self.NAME)
        self.ok = True

    def configure(self):
        pass

    def read(self):
        # -> (x, y, z) in milli-g. OSError if the bus fails or the chip has gone to sleep.
        try:
            self._i2c.readfrom_mem_into(self._addr, ACCEL_XOUT_H, self._buf)
        except OSError:
            self.ok = False
            raise
        x, y, z = struct.unpack_from(">hhh", self._buf, 0)
        if x == 0 and y == 0 and z == 0:
            # Gravity never reads zero on all axes: the chip reset or sleeps (brown-out).
            self.ok = False
            raise OSError(5)
        return x * 1000 // LSB_PER_G, y * 1000 // LSB_PER_G, z * 1000 // LSB_PER_G
