# Training recipes (host): named networks and DFA settings measured in docs/RESULTS.md.
# Each recipe gives the arguments of udfa.agent.create / udfa.agent.train plus the data size;
# "shifts" (per layer) is optional: model.default_shift otherwise. "decay": the learning rate
# halves (lr_shift + 1) every `decay` epochs.

RECIPES = {
    # PocketNN's own MNIST network, for comparison with its 96.98 %
    "pocketnn": {"size": 28, "hidden": [100, 50], "acts": ["tanh", "tanh", "tanh"],
                 "batch": 20, "lr_shift": 16, "decay": 10, "fb_shift": 6,
                 "target": [127, -127], "epochs": 20},
    "mnist": {"size": 28, "hidden": [1024], "acts": ["tanh", "tanh"], "shifts": [14, 12],
              "batch": 20, "lr_shift": 17, "decay": 2, "fb_shift": 6, "target": [127, -127],
              "epochs": 10},
    # dense clothing images: first-layer shift 15 keeps its weights off wmax
    "fashion": {"size": 28, "hidden": [512], "acts": ["tanh", "tanh"], "shifts": [15, 12],
                "batch": 20, "lr_shift": 18, "decay": 3, "fb_shift": 6, "target": [127, -127],
                "epochs": 14},
    # 14x14 inputs; weights fit a board's budget (2 bytes a weight)
    # 196-112-10 (46 KB) with batch 8: trains in 60 KB of heap beyond the code (32-bit build)
    "mnist14-rp2040": {"size": 14, "hidden": [112], "acts": ["tanh", "tanh"], "batch": 8,
                       "lr_shift": 15, "decay": 10, "fb_shift": 6, "target": [127, -127],
                       "epochs": 20},
    "mnist14-esp32": {"size": 14, "hidden": [64], "acts": ["tanh", "tanh"], "batch": 16,
                      "lr_shift": 15, "decay": 10, "fb_shift": 6, "target": [127, -127],
                      "epochs": 20},
}

# LES recipes (udfa.les, host/udfa_host/fit_cnn.py): a spec string names the network.
# Shifts picked by screens on 12,800 MNIST samples (docs/RESULTS.md): learning rates per
# block (the pixel block needs a 32x smaller one than the next) and per head (the last: the
# output layer); batch 8 (same step size, 4x the steps of batch 32: 95.9 vs 91.0 % after
# 12,800 samples; larger steps diverge); random rounding of the updates.
_CNN = {"size": 28, "net": "c32k3p2g4-c64k3p2-c128k3p2-f10", "batch": 8,
        "lr_shift": [16, 12, 12], "head_lr_shift": [13, 13, 11], "bw_shift": 10, "wd_shift": 0,
        "target": [64, 0], "decay": 6, "epochs": 30}
CNN_RECIPES = {
    "mnist-cnn": _CNN,
    "fashion-cnn": _CNN,
    # the NITRO-D / PocketNN MLP, trained by LES
    "les-mlp": {"size": 28, "net": "f100-f50-f10", "batch": 20, "lr_shift": 13,
                "head_lr_shift": 10, "bw_shift": 10, "wd_shift": 0, "target": [64, 0],
                "decay": 3, "epochs": 10},
    # trains on a board: 14x14 inputs, batch 1, plain kernel within a 190 KB heap
    "mnist14-cnn": {"size": 14, "net": "c8k3p2-c16k3p2-c32k3p2-f10", "batch": 1,
                    "lr_shift": [17, 11, 11], "head_lr_shift": [7, 7, 7], "bw_shift": 10,
                    "wd_shift": 0, "target": [64, 0], "decay": 1, "epochs": 2},
}
