# InvenSense MPU-6886: the M5StickC Plus2's built-in IMU. Same core registers as the 6050,
# plus a separate accelerometer low-pass filter in ACCEL_CONFIG2.
from hardware.mpu import Mpu
from protocol.const import const

ACCEL_CONFIG2 = const(0x1D)
DLPF_176HZ = const(1)  # CONFIG: gyro DLPF on, so the internal rate is 1 kHz
A_DLPF_44HZ = const(3)  # ACCEL_CONFIG2 A_DLPF_CFG 3, FCHOICE_B 0: 44.8 Hz accel bandwidth


class Mpu6886(Mpu):
    NAME = "MPU-6886"
    WHO = (0x19,)
    DLPF = DLPF_176HZ

    def configure(self):
        self._w(ACCEL_CONFIG2, A_DLPF_44HZ)
