# CircuitPython entry point (device, udfa), runs at boot: as main.py on MicroPython, goes on
# with an unfinished udfa training job; its progress lines also go to the usb_cdc data channel
# (a second serial port, when boot.py enables it) while a host listens there.
import usb_cdc

from udfa import autorun

if usb_cdc.data is not None:
    usb_cdc.data.write_timeout = 1  # second: a host that stops reading never stalls training
autorun.main(usb_cdc.data)
