# Run the board agent in the folder argv[1] (holding shards a.uds, b.uds): create a model,
# train, and print the weight CRC of the newest checkpoint. argv[2]: "fresh" or "resume";
# argv[3]: epochs in all; argv[4]: the rule, "dfa" (an MLP, default) or "les" (a CNN).
# tests/test_agent.py also calls run() on the host with the numpy kernel.
import os
import sys

from udfa import agent, checkpoint
from synth import weights_crc

# rule -> (agent.create's arguments, agent.train's settings) for 6x8 samples of 5 classes
NETS = {
    "dfa": ({"net": [48, 16, 5], "acts": ["tanh", "tanh"], "seed": 4, "init": 30},
            {"batch": 8, "lr_shift": 13}),
    # the middle of three layers frozen (it keeps its initial weights, large enough to pass
    # on a signal)
    "frozen": ({"net": [48, 16, 12, 5], "acts": ["tanh"] * 3, "seed": 4, "init": 1000},
               {"batch": 8, "lr_shift": 13, "train_layers": [0, -1]}),
    # learning rates per block, decay, weight decay: every LES setting the agent passes
    "les": ({"net": "c4k3p2-c6k3-f5", "shape": (6, 8, 1), "seed": 4},
            {"batch": 8, "lr_shift": [15, 12], "head_lr_shift": 10, "bw_shift": 8,
             "wd_shift": 12, "target": (64, 0), "decay": 2}),
}


def run(rule, epochs, fresh, **kw):
    """Train in the current folder; 'weights CRC seen N' of the newest checkpoint."""
    net, settings = NETS[rule]
    if fresh:
        agent.create("model.udfa", **net)
    agent.train(["a.uds", "b.uds"], epochs=epochs, every=24, report_every=40, fresh=fresh,
                **dict(settings, **kw))
    model, state = checkpoint.load("ckpt.udfa")
    return "weights %d seen %d" % (weights_crc(model), state["seen"])


if __name__ == "__main__":
    os.chdir(sys.argv[1])
    print(run(sys.argv[4] if len(sys.argv) > 4 else "dfa", int(sys.argv[3]),
              sys.argv[2] == "fresh"))
