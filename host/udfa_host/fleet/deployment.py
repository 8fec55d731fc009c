"""Runs on the PC: `udfa fleet --engine deployment|simulation`, the rounds on Flower's engines.

Deployment Engine: one `flower-superlink` and one `flower-supernode` per board, all on
loopback (free ports), then `flwr run` of a Flower app whose components are
udfa_host.fleet.server:app and udfa_host.fleet.client:app; each SuperNode's node config names
its board, as run.py's nodes do in-process. Simulation engine (`pip install
'udfa[simulation]'`): a `flower-superlink --simulation`, which runs the ClientApps itself on
Ray, one simulated SuperNode per board (`flwr run --federation-config num-supernodes=N`);
Flower numbers those nodes, so their configs go to OUT/nodes.json (client.node_of). Flower's
files (its config.toml naming the SuperLink) go to OUT/flwr, the app to OUT/app, each
process's output to OUT/flwr/*.log. Every process started here is stopped at the end, by its
process group (a SuperNode runs its ClientApps as child processes).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..cli import UsageError

_APP = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "udfa-fleet"
version = "1.0.0"
description = "udfa: a fleet of boards, federated integer training"
license = "MIT"
dependencies = ["flwr>=1.22"]

[tool.flwr.app]
publisher = "udfa"

[tool.flwr.app.components]
serverapp = "udfa_host.fleet.server:app"
clientapp = "udfa_host.fleet.client:app"

[tool.flwr.app.config]
%s
"""
_CONNECTION = """[superlink]
default = "fleet"

[superlink.fleet]
address = "127.0.0.1:%d"
insecure = true
"""
# Flower's simulation engine: the SuperLink runs the ClientApps itself, on Ray actors, one
# CPU each (a host node's numpy kernel runs single-threaded: client.py)
_SIMULATION = "num-supernodes=%d client-resources-num-cpus=1"
# a SuperNode registers within seconds; a Flower process that has not started by then won't
_START_WAIT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, home):
    """Wait until the SuperLink listens on port (`flwr run` and SuperNodes need it up)."""
    end = time.monotonic() + _START_WAIT
    while time.monotonic() < end:
        if process.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise UsageError("flower-superlink did not listen on port %d: see %s"
                     % (port, home / "superlink.log"))


def toml_value(v):
    return json.dumps(v)  # a JSON string, int or float is TOML too


def _tool(name):
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise UsageError("%s not found beside %s: pip install 'udfa[fleet]'"
                         % (name, sys.executable))
    return str(path)


def run(nodes, config, out, on_round, done=0, simulation=False):
    """Run the rounds of config (server.py's run config) over nodes (client.py's node
    configs), each behind its own SuperNode; calls on_round(figures) as rounds.jsonl grows
    beyond its first `done` lines (a resumed fleet's rounds so far)."""
    from . import server

    out = Path(out).resolve()
    home, app = out / "flwr", out / "app"
    home.mkdir(parents=True, exist_ok=True)
    app.mkdir(parents=True, exist_ok=True)
    config = dict(config, **{"min-nodes": len(nodes)})
    if simulation:  # the simulated nodes are numbered, their configs in a file (client.py)
        (out / "nodes.json").write_text(json.dumps(nodes, indent=1))
        config["nodes"] = str(out / "nodes.json")
    (app / "pyproject.toml").write_text(_APP % "\n".join(
        '"%s" = %s' % (k, toml_value(v)) for k, v in config.items()))
    (app / "__init__.py").write_text('"""udfa fleet: the app\'s code is udfa_host.fleet."""\n')
    link = free_port()
    (home / "config.toml").write_text(_CONNECTION % link)
    env = dict(os.environ, FLWR_HOME=str(home))
    log_path = Path(config["out"]) / server.LOG
    if log_path.exists() and not done:
        log_path.unlink()
    started = []

    def start(name, argv):
        log = open(home / (name + ".log"), "w")
        started.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True))
        log.close()

    try:
        start("superlink", [_tool("flower-superlink"), "--insecure", "--port", str(link)] +
              (["--simulation"] if simulation else []))
        wait_port(link, started[0], home)
        for i, node in enumerate([] if simulation else nodes):
            text = " ".join("%s=%s" % (k, toml_value(str(v))) for k, v in node.items())
            start("supernode-%d" % i, [_tool("flower-supernode"), "--insecure", "--superlink",
                                       "127.0.0.1:%d" % link, "--port", str(free_port()),
                                       "--node-config", text])
        start("run", [_tool("flwr"), "run", str(app), "fleet", "--stream"] + (
            ["--federation-config", _SIMULATION % len(nodes)] if simulation else []))
        _follow(started[-1], started[:-1], log_path, on_round, home, done)
    finally:
        for p in reversed(started):
            _stop(p)


def _follow(flwr_run, servers, log_path, on_round, home, seen):
    """Report rounds as the ServerApp writes them (after the first `seen` lines), until
    `flwr run` ends."""
    while True:
        done = flwr_run.poll() is not None
        if log_path.exists():
            lines = log_path.read_text().splitlines()
            for line in lines[seen:]:
                on_round(json.loads(line))
            seen = max(seen, len(lines))  # (a resumed server rewrites the log)
        if done:
            break
        for p in servers:
            if p.poll() is not None:
                raise UsageError("a Flower process stopped (exit %d): see the logs in %s"
                                 % (p.returncode, home))
        time.sleep(0.5)
    if flwr_run.returncode != 0 or not seen:
        raise UsageError("flwr run ended (exit %d) after %d rounds: see %s"
                         % (flwr_run.returncode, seen, home / "run.log"))


def _stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            pass
