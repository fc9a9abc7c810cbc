# Battery level from an ADC behind a resistor divider, as percent of a LiPo's usable range.
from protocol.const import const

# Open-circuit voltage (mV) -> percent for a 1-cell LiPo at light load, coarse but monotonic.
_CURVE = (
    (4150, 100),
    (4000, 85),
    (3900, 70),
    (3800, 55),
    (3700, 35),
    (3600, 15),
    (3500, 5),
    (3300, 0),
)
_SAMPLES = const(8)  # averaged: the ESP32 ADC is noisy


def percent_from_mv(mv):
    if mv >= _CURVE[0][0]:
        return 100
    for i in range(1, len(_CURVE)):
        hi_mv, hi_pct = _CURVE[i - 1]
        lo_mv, lo_pct = _CURVE[i]
        if mv >= lo_mv:
            return lo_pct + (mv - lo_mv) * (hi_pct - lo_pct) // (hi_mv - lo_mv)
    return 0


class BatteryAdc:
    # adc: machine.ADC (with read_uv) ; divider: battery volts per volt at the pin.
    def __init__(self, adc, divider=2):
        self._adc = adc
        self._divider = divider

    def millivolts(self):
        total = 0
        for _ in range(_SAMPLES):
            total += self._adc.read_uv()
        return total // _SAMPLES * self._divider // 1000

    def __call__(self):
        return percent_from_mv(self.millivolts())
