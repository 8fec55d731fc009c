# The README's main job, end to end on a virtual RP2040 (shortened: few samples, one epoch).
import json

from udfa import model as model_file
from udfa_host import cli


def test_demo_trains_on_the_virtual_board(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--samples", "600", "--epochs", "1", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "6/6 test accuracy" in printed
    result = json.loads((out / "eval.json").read_text())
    assert result["samples"] == 1000 and result["accuracy"] > 0.6
    model = model_file.load(str(out / "model.udfa"))
    assert model.sizes == (196, 112, 10)
    for name in ("learning_curve.png", "confusion.png", "model.h", "train.jsonl"):
        assert (out / name).stat().st_size > 0
