# Host training (`udfa fit`) on the shipped MNIST subset: per-epoch figures and the model file.
import json

from conftest import ROOT
from udfa import model as model_file
from udfa_host import cli

DEMO = ROOT / "data" / "mnist-demo"


def test_fit_on_the_demo_subset(tmp_path, capsys):
    out, log = tmp_path / "m.udfa", tmp_path / "fit.jsonl"
    assert cli.main(["fit", "--data", str(DEMO), "--recipe", "mnist14-esp32", "--epochs", "2",
                     "--limit", "2000", "--out", str(out), "--log", str(log)]) == 0
    assert "196-64-10" in capsys.readouterr().out
    history = [json.loads(line) for line in log.read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["test_accuracy"] > 0.8 and history[-1]["samples_per_s"] > 0
    assert model_file.load(str(out)).sizes == (196, 64, 10)


def test_fit_recipe_shifts_reach_the_model(tmp_path):
    out = tmp_path / "m.udfa"
    assert cli.main(["fit", "--data", str(DEMO), "--recipe", "mnist", "--hidden", "16",
                     "--epochs", "1", "--limit", "200", "--out", str(out)]) == 0
    assert [l.shift for l in model_file.load(str(out)).layers] == [14, 13]  # defaults
    assert cli.main(["fit", "--data", str(DEMO), "--recipe", "mnist", "--epochs", "1",
                     "--limit", "100", "--out", str(out)]) == 0
    assert [l.shift for l in model_file.load(str(out)).layers] == [14, 12]  # the recipe's


def test_validation_split_picks_the_epoch(tmp_path, capsys):
    """fit and fit-cnn hold out --validation of the training data (stratified) and write the
    model of the epoch it scores best; the test set is only reported."""
    log = tmp_path / "fit.jsonl"
    assert cli.main(["fit", "--data", str(DEMO), "--recipe", "mnist14-esp32", "--epochs", "3",
                     "--limit", "1000", "--validation", "0.2", "--out",
                     str(tmp_path / "m.udfa"), "--log", str(log)]) == 0
    history = [json.loads(line) for line in log.read_text().splitlines()]
    kept = max(history[::-1], key=lambda h: h["val_accuracy"])  # ties: the later epoch
    out = capsys.readouterr().out
    assert "1000 training samples (20% held out to pick the epoch)" in out
    assert "kept epoch %d, picked on the validation split" % kept["epoch"] in out
    assert cli.main(["fit-cnn", "--data", str(DEMO), "--recipe", "les-mlp", "--size", "14",
                     "--epochs", "2", "--limit", "500", "--validation", "0", "--out",
                     str(tmp_path / "c.udfa")]) == 0
    assert "kept epoch 2 (the last)" in capsys.readouterr().out


def test_bench_accuracy_runs_seeds_under_the_protocol(tmp_path, capsys):
    """tools/bench_accuracy.py: one run per seed, each keeping the epoch its validation split
    picks (the later of ties); the summary is the mean of the kept epochs' test accuracy."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_accuracy",
                                                  ROOT / "tools" / "bench_accuracy.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    log = tmp_path / "bench.jsonl"
    bench.main(["--data", str(DEMO), "--recipe", "mnist14-esp32", "--seeds", "2", "--limit",
                "1000", "--validation", "0.2", "--set", "epochs=3", "--set", "lr_shift=14",
                "--log", str(log)])
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["seed"], r["epoch"]) for r in rows] == [(s, e) for s in (1, 2) for e in (1, 2, 3)]
    assert all(r["settings"]["lr_shift"] == 14 for r in rows)
    kept = [max([r for r in rows if r["seed"] == s][::-1], key=lambda r: r["val_accuracy"])
            for s in (1, 2)]
    lines = [line for line in out.splitlines() if line.startswith("seed ")]
    for line, k in zip(lines, kept):
        assert line.startswith("seed %d: " % k["seed"])
        assert "kept epoch %d (val %.2f): test %.2f %%" % (
            k["epoch"], 100 * k["val_accuracy"], 100 * k["test_accuracy"]) in line
    mean = 50 * (kept[0]["test_accuracy"] + kept[1]["test_accuracy"])
    assert "kept (validation-selected) test %%: %.2f +- " % mean in out
