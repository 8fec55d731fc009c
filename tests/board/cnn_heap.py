# Heap that training a CNN board profile takes through the agent (create, then agent.train
# with the profile's settings, checkpoints included), stopped after N samples. argv: the
# folder holding the shards P-000.uds, ... (model and checkpoints go there too), P, the
# profile's JSON file, N. Prints the heap the loaded code takes, then the most that was
# live after any training step, beyond the code (gc.mem_alloc after a collection), and the
# kernel it trained with. The code includes the kernel agent.train picks and its conv ops.
import gc
import json
import os
import sys

from udfa import agent, conv, kernels, les  # les and conv: the code a CNN loads

folder, prefix, profile_path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(profile_path) as f:
    profile = json.load(f)
os.chdir(folder)
net = profile["network"]
settings = profile["train"]
kernel = kernels.load(settings.get("kernel"), les.KERNELS)  # what agent.train will pick
conv.default_ops(kernel)  # and its conv ops: code, loaded before the measurement
settings["every"] = n // 2  # one checkpoint mid-way
settings["report_every"] = 1  # a report, and so a measurement, after every step
peak = [0]


class Enough(Exception):
    pass


def measure(event, fields):
    gc.collect()
    peak[0] = max(peak[0], gc.mem_alloc())
    if event == "progress" and fields["done"] >= n:
        raise Enough()


gc.collect()
code = gc.mem_alloc()
agent.report = measure
agent.create("model.udfa", net["spec"], shape=net["shape"])
try:
    agent.train(prefix, fresh=True, **settings)
except Enough:
    pass
print(code, peak[0] - code, kernel.__name__)
