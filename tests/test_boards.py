"""Runs on the PC (pytest): the board profiles in boards/ and their loader."""
import json

import pytest

from udfa_host.boards import ProfileError, list_profiles, load_profile
from udfa_host.recipes import CNN_RECIPES

EXPECTED = {"rp2040", "rp2040-cnn", "esp32", "esp32s3-psram", "circuitpython-rp2040", "unix"}
FIELDS = {
    "name": str, "description": str, "firmware": str, "heap_bytes": int, "heap": str,
    "entry": str, "backends": list, "network": dict, "shard_bytes": int, "transport": dict,
}
_UNITS = {"K": 1024, "M": 1024 * 1024}


def test_every_target_has_a_profile():
    assert EXPECTED <= set(list_profiles())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_profile_fields(name):
    p = load_profile(name)
    for field, kind in FIELDS.items():
        assert isinstance(p[field], kind), field
    assert p["name"] == name
    assert p["firmware"] in ("micropython", "circuitpython")
    assert p["heap_bytes"] == int(p["heap"][:-1]) * _UNITS[p["heap"][-1]]
    assert p["entry"] == ("code.py" if p["firmware"] == "circuitpython" else "main.py")
    assert set(p["backends"]) <= {"native", "ulab", "viper", "plain"} and "plain" in p["backends"]
    # an MLP (layer sizes, DFA) or a CNN (spec string and input shape, LES)
    assert set(p["network"]) in ({"inputs", "hidden", "outputs"},
                                 {"inputs", "shape", "spec", "outputs"})
    assert p["transport"]["kind"] == "serial"
    assert "interpreter" in p and "mpy_arch" in p


def test_cnn_profile_network_and_settings():
    from udfa.conv import ConvModel
    p = load_profile("rp2040-cnn")
    net = p["network"]
    model = ConvModel(net["spec"], net["shape"])
    assert (model.n_inputs, model.n_classes) == (net["inputs"], net["outputs"])
    assert p["backends"] == ["native", "viper", "plain"]  # LES trains on these, not on ulab
    # the settings of the host recipe that screened them (docs/RESULTS.md)
    recipe = CNN_RECIPES["mnist14-cnn"]
    assert net["spec"] == recipe["net"] and net["shape"][0] == recipe["size"]
    for key in ("batch", "lr_shift", "head_lr_shift", "bw_shift", "wd_shift", "target", "decay",
                "epochs"):
        assert p["train"][key] == recipe[key], key


def test_circuitpython_has_no_viper():
    assert "viper" not in load_profile("circuitpython-rp2040")["backends"]


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError) as info:
        load_profile("pico9000")
    assert "pico9000" in str(info.value) and "rp2040" in str(info.value)


def test_boards_dir_from_env(tmp_path, monkeypatch):
    (tmp_path / "mine.json").write_text(json.dumps({"name": "mine", "heap": "8K"}))
    monkeypatch.setenv("UDFA_BOARDS_DIR", str(tmp_path))
    assert list_profiles() == ["mine"]
    assert load_profile("mine")["heap"] == "8K"


def test_missing_boards_dir_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("UDFA_BOARDS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ProfileError, match="UDFA_BOARDS_DIR"):
        list_profiles()
