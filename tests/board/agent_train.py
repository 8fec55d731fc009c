# Run the board agent in the folder argv[1] (holding shards a.uds, b.uds): create a model,
# train, and print the weight CRC of the newest checkpoint. argv[2]: "fresh" or "resume".
import os
import sys

from udfa import agent, checkpoint
from synth import weights_crc

os.chdir(sys.argv[1])
if sys.argv[2] == "fresh":
    agent.create("model.udfa", [48, 16, 5], ["tanh", "tanh"], seed=4, init=30)
agent.train(["a.uds", "b.uds"], epochs=int(sys.argv[3]), batch=8, lr_shift=13,
            every=24, report_every=40, fresh=sys.argv[2] == "fresh")
model, state = checkpoint.load("ckpt.udfa")
print("weights", weights_crc(model), "seen", state["seen"])
