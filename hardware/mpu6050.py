# InvenSense MPU-6050 (GY-521 breakout): the DevKitC fob's accelerometer.
from hardware.mpu import Mpu
from protocol.const import const

DLPF_44HZ = const(3)  # CONFIG DLPF_CFG 3: 44 Hz accel bandwidth, internal rate 1 kHz


class Mpu6050(Mpu):
    NAME = "MPU-6050"
    WHO = (0x68,)
    DLPF = DLPF_44HZ
