# udfa example (MicroPython): a board that learns live. Every SAMPLE readings of an MPU-6050
# accelerometer on I2C (or, without one, an analog sensor on ADC pin 26) make one sample; the
# board predicts its class, then learns it with the button's label: held = 1, released = 0.
# Hold the button while doing one thing (a shake, a light on the sensor), release it for the
# other; after a few dozen samples the predictions follow. Needs udfa on the board
# ('udfa deploy'); the model is saved to model.udfa every SAVE_EVERY samples and resumed
# after a reset.
import time

from machine import ADC, I2C, Pin
from udfa.learner import Learner
from udfa.model import ModelError

SAMPLE = 8  # readings per sample
PERIOD_MS = 2  # between readings
SAVE_EVERY = 500  # samples (flash wears out: not every sample)
ACCEL = 0x68  # MPU-6050's I2C address

button = Pin(15, Pin.IN, Pin.PULL_UP)  # to ground: value() is 0 while pressed
i2c = I2C(0, scl=Pin(5), sda=Pin(4))
raw = bytearray(6)
if ACCEL in i2c.scan():
    i2c.writeto_mem(ACCEL, 0x6B, b"\x00")  # wake it up
    adc = None
else:
    adc = ADC(26)
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
            i2c.readfrom_mem_into(ACCEL, 0x3B, raw)  # x, y, z: big-endian int16
            for a in range(3):
                sample[3 * r + a] = raw[2 * a] ^ 0x80  # top byte, signed -> 0..255
        else:
            sample[r] = adc.read_u16() >> 8
        time.sleep_ms(PERIOD_MS)


while True:
    read(sample)
    label = 1 - button.value()
    cls, scores = learner.predict(sample)  # before learning it: an honest guess
    learner.learn(sample, label)
    print("label", label, "predicted", cls, "scores", scores[0], scores[1])
    if learner.seen % SAVE_EVERY == 0:
        learner.save()
