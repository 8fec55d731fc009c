# Runs an example (examples/*/main.py or code.py) on fake hardware (learner_fakes), in a
# scratch directory, until the fake button has been read LOOPS times.
# usage: learner_example.py EXAMPLE MODE LOOPS DIR
import os
import sys

if len(sys.argv) < 5:  # tests/test_device_scripts.py runs it bare
    print("SKIP needs an example: run by tests/test_examples.py")
    raise SystemExit

import learner_fakes

for name in ("machine", "board", "busio", "digitalio", "analogio"):
    sys.modules[name] = learner_fakes
learner_fakes.MODE = sys.argv[2]
learner_fakes.LOOPS = int(sys.argv[3])
with open(sys.argv[1]) as f:
    source = f.read()
os.chdir(sys.argv[4])
try:
    exec(source, {"__name__": "__main__"})
except KeyboardInterrupt:
    print("stopped after", learner_fakes.LOOPS, "samples")
