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
