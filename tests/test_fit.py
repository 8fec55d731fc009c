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


def test_augmentation_moves_whole_pixels_anew_each_epoch():
    """Each augmented image is its original moved by at most `shift` pixels (and mirrored, with
    flip): exactly one of those moves, the pixels moved in 0; the draws follow the seed and
    the epoch."""
    import numpy as np
    from udfa_host.augment import epoch_images
    from udfa_host.idx import load_images

    images = load_images(DEMO, "train", 28)[0][:300]
    aug = {"shift": 2, "flip": True}
    out = epoch_images(images, aug, 1, 0)
    assert out.dtype == np.uint8 and out.shape == images.shape
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    moves = [(dy, dx, f) for dy in range(-2, 3) for dx in range(-2, 3) for f in (0, 1)]
    found = set()
    for img, a in zip(padded, out):
        hits = [(dy, dx, f) for dy, dx, f in moves
                if (a == (img[2 - dy:30 - dy, 2 - dx:30 - dx][:, ::-1 if f else 1])).all()]
        assert hits
        found.add(hits[0])
    assert len(found) > 40  # the moves are drawn, not fixed
    assert (epoch_images(images, aug, 1, 0) == out).all()
    assert (epoch_images(images, aug, 1, 1) != out).any()
    assert (epoch_images(images, aug, 2, 0) != out).any()
    assert epoch_images(images, None, 1, 0) is images


def test_fit_trains_each_epoch_on_its_augmented_samples(tmp_path):
    """With a recipe's "augment", fit rewrites the shards before every epoch with that epoch's
    moved images (same labels, same counts); fit-cnn moves its samples the same way."""
    import numpy as np
    from udfa_host import fit, fit_cnn
    from udfa_host.augment import epoch_images
    from udfa_host.recipes import CNN_RECIPES, RECIPES
    from udfa_host.shards import read_shard

    train_x, train_y, test_x, test_y = fit.load_data(DEMO, 14)
    train_x, train_y, test_x, test_y = train_x[:400], train_y[:400], test_x[:200], test_y[:200]
    aug = {"shift": 1}
    settings = dict(RECIPES["mnist14-esp32"], epochs=3, augment=aug)
    fit.fit(train_x, train_y, test_x, test_y, settings, tmp_path, seed=3)
    x, y = read_shard(tmp_path / "train-000.uds")[:2]
    assert (x.reshape(-1, 14, 14) == epoch_images(train_x, aug, 3, 2)).all()
    assert (y == train_y).all()
    cnn = dict(CNN_RECIPES["mnist14-cnn"], epochs=1)
    plain = fit_cnn.fit(train_x, train_y, None, None, cnn, 3)[0]
    moved = fit_cnn.fit(train_x, train_y, None, None, dict(cnn, augment=aug), 3)[0]
    same = fit_cnn.fit(epoch_images(train_x, aug, 3, 0), train_y, None, None, cnn, 3)[0]
    assert bytes(moved.out.W) != bytes(plain.out.W)
    assert bytes(moved.out.W) == bytes(same.out.W)
