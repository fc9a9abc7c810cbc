# MicroPython freeze manifest: builds the firmware into an ESP32 image so its bytecode and
# strings stay in flash (the heap then holds only live objects; see bench/firmware_cost.py).
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/vigil/firmware/manifest.py
# Copy firmware/main.py to the board's file system as main.py as usual.
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
require("aioble")  # noqa: F821
package("protocol", base_path="..")  # noqa: F821
package("firmware", base_path="..")  # noqa: F821
package(  # noqa: F821
    "hardware",
    files=[
        "__init__.py",
        "boards.py",
        "battery.py",
        "mpu.py",
        "mpu6050.py",
        "mpu6886.py",
        "esp32.py",
        "esp32_serial.py",
    ],
    base_path="..",
)
