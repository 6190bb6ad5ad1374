"""Config: precedence defaults < pyproject < flags, unknown keys and bad values are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from privaudit.config import ATTACK_NAMES, Config, load_config
from privaudit.errors import ConfigError


def _pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    cfg = load_config(None, {}, cwd=tmp_path)
    assert cfg == Config(output_dir=cfg.output_dir)
    assert cfg.config_path is None


def test_pyproject_found_upwards_and_paths_relative_to_it(tmp_path: Path) -> None:
    _pyproject(
        tmp_path,
        '[tool.privaudit]\nmodel = "m/net.onnx"\nnoise = 0.2\n'
        "[tool.privaudit.gate]\nmin_mse_floor = 0.01\n",
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = load_config(None, {}, cwd=sub)
    assert cfg.model == (tmp_path / "m" / "net.onnx").resolve()
    assert cfg.noise == 0.2 and cfg.gate.min_mse_floor == 0.01
    assert cfg.config_path == tmp_path / "pyproject.toml"


def test_flags_win_over_file(tmp_path: Path) -> None:
    _pyproject(
        tmp_path,
        "[tool.privaudit]\nnoise = 0.2\nseed = 3\n[tool.privaudit.gate]\nmax_leakage = 1.0\n",
    )
    cfg = load_config(None, {"noise": 0.05, "seed": None, "gate.max_leakage": 0.5}, cwd=tmp_path)
    assert (cfg.noise, cfg.seed, cfg.gate.max_leakage) == (0.05, 3, 0.5)



def test_a_flag_settles_values_of_the_file_that_conflict_only_together(tmp_path: Path) -> None:
    """`harden.epochs = 1` in the file with `--epochs 2` on the command line was refused,
    with the hint to pass the very flag given; a typo in the file is still refused."""
    (tmp_path / "pyproject.toml").write_text("[tool.privaudit.harden]\nepochs = 1\n")
    assert load_config(None, {"harden.epochs": 2}, cwd=tmp_path).harden.epochs == 2
    with pytest.raises(ConfigError, match="harden.epochs 1 with cem"):
        load_config(None, {}, cwd=tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.privaudit.harden]\nepochs = 0\n")
    with pytest.raises(ConfigError, match="harden.epochs"):
        load_config(None, {"harden.epochs": 2}, cwd=tmp_path)

def test_attack_tables_pass_through(tmp_path: Path) -> None:
    _pyproject(
        tmp_path,
        '[tool.privaudit.attacks]\nenabled = ["decoder"]\n'
        "[tool.privaudit.attacks.decoder]\nepochs = 3\n",
    )
    cfg = load_config(None, {}, cwd=tmp_path)
    assert cfg.attacks.enabled == ("decoder",)
    assert cfg.attacks.params == {"decoder": {"epochs": 3}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.privaudit]\nnoize = 0.1\n", "unknown config key 'noize'"),
        ("[tool.privaudit.gate]\nmin_mse_flor = 0.1\n", "unknown config key 'gate.min_mse_flor'"),
        ("[tool.privaudit]\nnoise = -0.1\n", "noise: expected a finite sigma >= 0"),
        ('[tool.privaudit]\nnoise = "abc"\n', "noise: expected a number"),
        ("[tool.privaudit]\nseed = 1.5\n", "seed: expected int"),
        ('[tool.privaudit.attacks]\nenabled = ["decodr"]\n', "unknown attack 'decodr'"),
        ('[tool.privaudit.attacks]\nbudget = "huge"\n', "attacks.budget: unknown value 'huge'"),
        ('[tool.privaudit.bound]\ncovariance = "fulll"\n', "bound.covariance"),
        ('[tool.privaudit]\ndevice = "tpu"\n', "device: unknown value 'tpu'"),
        ("[tool.privaudit]\nstd = [0.0]\n", "std: expected positive"),
        ("[tool.privaudit\n", "cannot read config"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path: Path, body: str, message: str) -> None:
    _pyproject(tmp_path, body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_config(tmp_path / "pyproject.toml", {}, cwd=tmp_path)


def test_typo_gets_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, {"gate.max_leakge": 1.0}, cwd=tmp_path)
    assert err.value.hint is not None and "gate.max_leakage" in err.value.hint


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", {}, cwd=tmp_path)


def test_comma_separated_flags(tmp_path: Path) -> None:
    flags = {"noise_sweep": "0,0.05,0.1", "attacks.enabled": "knn,decoder"}
    cfg = load_config(None, flags, cwd=tmp_path)
    assert cfg.noise_sweep == (0.0, 0.05, 0.1)
    assert cfg.attacks.enabled == ("knn", "decoder")


def test_attack_names_match_registry() -> None:
    from privaudit.attacks import ATTACKS

    assert set(ATTACK_NAMES) == set(ATTACKS)


# --- issue 16, item 8: the file is validated in full, whatever the flags say -------------------


@pytest.mark.parametrize(
    ("body", "flags", "message"),
    [
        ("[tool.privaudit]\nlimit = 1.5\n", {"limit": 10}, "limit: expected int, got 1.5"),
        ('[tool.privaudit.attacks]\nenabled = ["decodr"]\n', {"attacks.enabled": ("knn",)},
         "unknown attack 'decodr'"),
        ('[tool.privaudit]\nnoise = "0.1"\n', {}, "noise: expected a number, got '0.1'"),
        ('[tool.privaudit]\nnoise_sweep = "0,0.1"\n', {}, "noise_sweep: expected a list"),
        ('[tool.privaudit]\nformats = "json"\n', {"formats": "html"}, "formats: expected a list"),
        ("[tool.privaudit.gate]\nmax_leakage = nan\n", {"gate.max_leakage": 0.5},
         "gate.max_leakage: expected a finite threshold"),
        ("[tool.privaudit.gate]\nmax_recovered = 50\n", {},
         "gate.max_recovered: expected a share in [0, 1], got 50"),
        ("[tool.privaudit.gate]\nmax_recovered = 50\n", {"gate.max_recovered": 0.5},
         "gate.max_recovered: expected a share in [0, 1], got 50"),
        ("[tool.privaudit.sweep]\nmax_recovered = 50.0\n", {},
         "sweep.max_recovered: expected a share in [0, 1], got 50"),
    ],
)
def test_the_file_is_checked_even_where_a_flag_overrides_it(
    tmp_path: Path, body: str, flags: dict[str, object], message: str
) -> None:
    _pyproject(tmp_path, body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        load_config(tmp_path / "pyproject.toml", flags, cwd=tmp_path)
    assert err.value.hint is not None
    assert ("pyproject.toml" in err.value.hint or "choose from" in err.value.hint
            or "share of the variance" in err.value.hint)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"formats": ""}, "formats: expected at least one report format"),
        ({"formats": "json,xml"}, "formats: unknown report format 'xml'"),
        ({"gate.min_mse_floor": float("nan")}, "gate.min_mse_floor: expected a finite"),
        ({"gate.min_attack_mse": float("inf")}, "gate.min_attack_mse: expected a finite"),
        ({"harden.max_accuracy_drop": -5.0}, "harden.max_accuracy_drop: expected a non-negative"),
        ({"harden.baseline_scales": (1.5, -1.0)}, "harden.baseline_scales: expected a positive"),
        ({"harden.lr": float("inf")}, "harden.lr: expected a positive"),
        ({"max_data_gb": 0.0}, "max_data_gb: expected a positive"),
        ({"gate.max_recovered": 50.0}, r"gate.max_recovered: expected a share in \[0, 1\]"),
        ({"gate.max_recovered": -0.1}, r"gate.max_recovered: expected a share in \[0, 1\]"),
        ({"gate.max_recovered": float("nan")}, "gate.max_recovered: expected a share"),
        ({"sweep.max_recovered": 50.0}, r"sweep.max_recovered: expected a share in \[0, 1\]"),
        ({"sweep.max_recovered": -1.0}, r"sweep.max_recovered: expected a share in \[0, 1\]"),
        ({"gate.min_attack_mse": -1.0}, "gate.min_attack_mse: expected an MSE >= 0, got -1"),
        ({"sweep.min_attack_mse": -0.5}, "sweep.min_attack_mse: expected an MSE >= 0"),
    ],
)
def test_bad_flag_values_are_config_errors(
    tmp_path: Path, flags: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, flags, cwd=tmp_path, search=False)


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_recovered_shares_from_0_to_1_are_thresholds(tmp_path: Path, share: float) -> None:
    cfg = load_config(None, {"gate.max_recovered": share, "sweep.max_recovered": share},
                      cwd=tmp_path, search=False)
    assert cfg.gate.max_recovered == share and cfg.sweep.max_recovered == share


def test_a_recovered_share_as_a_percentage_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, {"gate.max_recovered": 50.0}, cwd=tmp_path, search=False)
    assert err.value.hint is not None and "0.5 for 50%" in err.value.hint


def test_numbers_in_comma_separated_flags_are_still_read(tmp_path: Path) -> None:
    cfg = load_config(None, {"harden.baseline_scales": "2, 3", "formats": "json, html"},
                      cwd=tmp_path, search=False)
    assert cfg.harden.baseline_scales == (2.0, 3.0) and cfg.formats == ("json", "html")


@pytest.mark.parametrize("header", ["[tool.privadit.gate]", "[tool.priv_audit.gate]",
                                    "[privaudit.gate]"])  # fmt: skip
def test_a_misnamed_table_found_upwards_is_an_error_not_silence(tmp_path: Path,
                                                                header: str) -> None:  # fmt: skip
    (tmp_path / "pyproject.toml").write_text(f"{header}\nmax_leakage = 0.01\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError, match=r"is not read; privaudit's settings go under"):
        load_config(None, {}, cwd=tmp_path / "sub")
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert load_config(None, {}, cwd=tmp_path / "sub").gate.max_leakage is None  # another tool


def test_a_sections_key_at_the_top_names_its_section(tmp_path: Path) -> None:
    _pyproject(tmp_path, "[tool.privaudit]\nepochs = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(None, {}, cwd=tmp_path)
    assert caught.value.hint is not None
    assert "'epochs' is a key of the harden section ([tool.privaudit.harden]" in caught.value.hint


def test_minus_zero_sigma_reads_zero() -> None:
    cfg = load_config(None, {"noise": -0.0, "sweep.noise": "0,-0,0.1"}, search=False)
    assert str(cfg.noise) == "0.0" and cfg.sweep.noise == (0.0, 0.0, 0.1)
    assert all(str(s) != "-0.0" for s in cfg.sweep.noise)
