"""Runs on the PC: a fleet of boards that train one model together, on Flower (`flwr`).

weights.py   a udfa model's weights as int16 numpy arrays (what crosses the wire), checked
strategy.py  federated averaging over integer weights, exact in int64 (IntegerFedAvg)
client.py    the ClientApp: proxies ONE board (or the host's numpy kernel) for a round
server.py    the ServerApp: rounds, the global model, the per-round log
deployment.py  the rounds on Flower's Deployment Engine (SuperLink, a SuperNode per board)
grid.py      an in-process Flower Grid that delivers the ServerApp's messages to ClientApps
run.py       `udfa fleet`: splits the data per board, prepares the boards, runs the rounds

Flower is an optional extra: `pip install udfa[fleet]`.
"""
