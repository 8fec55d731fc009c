# udfa example (CircuitPython): a board that learns live. Every SAMPLE readings of an
# MPU-6050 accelerometer on I2C (or, without one, an analog sensor on A0) make one sample;
# the board predicts its class, then learns it with the button's label: held = 1, released
# = 0. Hold the button while doing one thing, release it for the other; after a few dozen
# samples the predictions follow. Pins are a Pico's (GP4/GP5 I2C, GP15 button): change them
# for your board. Needs udfa on CIRCUITPY ('udfa deploy'). The model is saved every
# SAVE_EVERY samples, when the drive is writable from code (boot.py: storage.remount).
import time

import analogio
import board
import busio
import digitalio
from udfa.learner import Learner
from udfa.model import ModelError

SAMPLE = 8  # readings per sample
PERIOD_MS = 2  # between readings
SAVE_EVERY = 500  # samples
ACCEL = 0x68  # MPU-6050's I2C address

button = digitalio.DigitalInOut(board.GP15)
button.switch_to_input(pull=digitalio.Pull.UP)  # to ground: False while pressed
i2c = busio.I2C(board.GP5, board.GP4)  # scl, sda
raw = bytearray(6)
while not i2c.try_lock():
    pass
adc = None if ACCEL in i2c.scan() else analogio.AnalogIn(board.A0)
if adc is None:
    i2c.writeto(ACCEL, b"\x6b\x00")  # wake it up
n_in = SAMPLE * (3 if adc is None else 1)
try:
    learner = Learner("model.udfa")
except ModelError:
    learner = Learner.create("model.udfa", [n_in, 16, 2], init=60, batch=4,
                             lr_shift=13)
sample = bytearray(n_in)


def read(sample):
    """One sample: SAMPLE readings, each value mapped to 0..255 (its top 8 bits)."""
    for r in range(SAMPLE):
        if adc is None:
            i2c.writeto_then_readfrom(ACCEL, b"\x3b", raw)  # x, y, z: big-endian int16
            for a in range(3):
                sample[3 * r + a] = raw[2 * a] ^ 0x80  # top byte, signed -> 0..255
        else:
            sample[r] = adc.value >> 8
        time.sleep(PERIOD_MS / 1000)


while True:
    read(sample)
    label = 0 if button.value else 1
    cls, scores = learner.predict(sample)  # before learning it: an honest guess
    learner.learn(sample, label)
    print("label", label, "predicted", cls, "scores", scores[0], scores[1])
    if learner.seen % SAVE_EVERY == 0:
        try:
            learner.save()
        except OSError:  # read-only CIRCUITPY (the USB drive owns it): keep learning
            pass
