# Training recipes (host): named networks and DFA settings measured in docs/RESULTS.md.
# Each recipe gives the arguments of udfa.agent.create / udfa.agent.train plus the data size.

RECIPES = {
    # PocketNN's own MNIST network, for comparison with its 96.98 %
    "pocketnn": {"size": 28, "hidden": [100, 50], "acts": ["tanh", "tanh", "tanh"],
                 "batch": 20, "lr_shift": 16, "decay": 10, "fb_shift": 6,
                 "target": [127, -127], "epochs": 20},
    "mnist": {"size": 28, "hidden": [512], "acts": ["tanh", "tanh"], "batch": 20,
              "lr_shift": 17, "decay": 10, "fb_shift": 6, "target": [127, -127],
              "epochs": 20},
    "fashion": {"size": 28, "hidden": [512], "acts": ["tanh", "tanh"], "batch": 20,
                "lr_shift": 17, "decay": 10, "fb_shift": 6, "target": [127, -127],
                "epochs": 20},
    # 14x14 inputs; weights fit a board's budget (2 bytes a weight)
    "mnist14-rp2040": {"size": 14, "hidden": [128], "acts": ["tanh", "tanh"], "batch": 16,
                       "lr_shift": 15, "decay": 10, "fb_shift": 6, "target": [127, -127],
                       "epochs": 20},
    "mnist14-esp32": {"size": 14, "hidden": [64], "acts": ["tanh", "tanh"], "batch": 16,
                      "lr_shift": 15, "decay": 10, "fb_shift": 6, "target": [127, -127],
                      "epochs": 20},
}
