"""harden: the written ONNX (names, metadata, input untouched), embedded noise, choices, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from privaudit.audit import prepare
from privaudit.config import AttacksConfig, BoundConfig, Config, HardenConfig
from privaudit.data import Feed, Normalization
from privaudit.errors import ConfigError, DataError, ModelError
from privaudit.hardening import (
    FinetuneSettings,
    choose,
    fine_tune,
    hold_out,
    run_harden,
    within_budget,
)
from privaudit.model import embed_noise, save_model, split_model, strip_embedded_noise
from privaudit.progress import NullProgress
from privaudit.results import Variant
from privaudit.runtime import derive_seed

SIGMA = 0.05

_PIXELS = Feed.pixels(Normalization(), (1, 28, 28))  # the digits-like images


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def labelled(tmp_path: Path, digits_like: tuple[np.ndarray, np.ndarray]) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, x=digits_like[0], y=digits_like[1])
    return path


def _cfg(model: Path, data: Path, **harden: object) -> Config:
    return Config(
        model=model, split="layer3", data=data, noise=SIGMA, device="cpu",
        attacks=AttacksConfig(enabled=("decoder",), budget="smoke"),
        bound=BoundConfig(bootstrap=10, k=2),
        harden=HardenConfig(epochs=2, batch_size=32, k=2, **harden),  # type: ignore[arg-type]
    )


def test_harden_writes_a_loadable_model_with_metadata(
    tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path
) -> None:
    from privaudit.model.edit import set_metadata

    source = tmp_path / "demo_like.onnx"  # what describes the original only must not carry over
    onnx.save(set_metadata(onnx.load(tiny_cnn_legacy), {"privaudit.demo": "1",
                                                         "privaudit.test_accuracy": "0.965"}),
              str(source))  # fmt: skip
    tiny_cnn_legacy = source
    before = _sha(tiny_cnn_legacy)
    out = tmp_path / "out" / "hardened.onnx"
    report = run_harden(_cfg(tiny_cnn_legacy, labelled, lam=2.0, loss="bound"), output=out)
    assert _sha(tiny_cnn_legacy) == before
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temporary left
    h = report.harden
    assert h is not None and h.output_sha256 == _sha(out) and len(h.history) == 2
    assert h.history[0].cem_loss == 0.0 and h.history[1].cem_loss > 0.0  # off in epoch 1
    assert h.after.model.sha256 == _sha(out) and h.after.bound is not None
    original, hardened = onnx.load(tiny_cnn_legacy), onnx.load(out)
    assert [i.name for i in hardened.graph.input] == [i.name for i in original.graph.input]
    assert [o.name for o in hardened.graph.output] == [o.name for o in original.graph.output]
    assert [n.op_type for n in hardened.graph.node] == [n.op_type for n in original.graph.node]
    meta = {p.key: p.value for p in hardened.metadata_props}
    assert meta["privaudit.lambda"] == "2" and meta["privaudit.loss"] == "bound"
    assert meta["privaudit.k"] == "2" and meta["privaudit.split"] == "layer3"
    assert "privaudit.demo" not in meta and "privaudit.test_accuracy" not in meta
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    logits = ort.InferenceSession(str(out)).run(None, {"input": x})[0]
    assert logits.shape == (3, 10) and np.isfinite(logits).all()
    reread = prepare(Config(model=out, data=labelled))  # sigma and split from metadata
    assert reread.noise_sigma == SIGMA and reread.noise_source == "model metadata"
    assert reread.split.cut_tensor == split_model(original, "layer3").cut_tensor


def test_harden_baseline_frontier_and_grid(
    tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path
) -> None:
    cfg = _cfg(tiny_cnn_legacy, labelled, baseline=True, baseline_scales=(2.0,),
               max_accuracy_drop=50.0)
    report = run_harden(cfg, output=tmp_path / "h.onnx")
    h = report.harden
    assert h is not None and h.comparison is not None and h.chosen
    assert [v.label for v in h.variants][:4] == ["original", "cem", "noise-only x1.0",
                                                 "noise-only x2.0"]
    assert all(v.label.startswith("noise-only sigma") for v in h.variants[4:])  # matching
    assert [v.lam for v in h.grid] == [2.0, 4.0, 8.0, 16.0]
    assert h.lam in (2.0, 4.0, 8.0, 16.0) and h.defence == "cem"
    assert h.accuracy_budget_met is True
    assert all(v.decoder_mse is not None and v.feature_std > 0 for v in h.variants)
    # NOTE: the decoder is the only attack; a reference that reconstructs better takes its
    # place (the label reference is the server's for free), never a weaker one
    for v in h.variants:
        assert v.strongest_mse is not None and v.decoder_mse is not None
        assert v.strongest_attack is not None
        assert set(v.strongest_attack.split("/")) <= {"decoder", "label reference",
                                                      "prior reference", "nearest reference"}
        assert v.strongest_mse <= v.decoder_mse


def test_an_accuracy_budget_no_model_keeps_is_exit_1_and_said(tmp_path: Path) -> None:
    """A tester's `--max-accuracy-drop 5` kept none and exited 0, saying so only in the
    Markdown report; now the hardened model's warnings say it, and the exit code is 1."""
    from typer.testing import CliRunner

    from privaudit.cli import app

    args = ["harden", "--split", "layer3", "--limit", "300", "--noise", "0.5", "--epochs", "2",
            "--attacks", "knn", "--budget", "smoke",
            "--max-accuracy-drop", "0", "-o", str(tmp_path / "h.onnx"),
            "--output-dir", str(tmp_path / "rep"), "-f", "json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    kept = next(v for v in report["harden"]["variants"] if v["label"] != "original")
    assert kept["noisy_accuracy"] < report["utility"]["clean_accuracy"]  # 0 points: missed
    assert report["harden"]["accuracy_budget_met"] is False
    assert result.exit_code == 1, result.output
    assert any(w.startswith("--max-accuracy-drop 0 not met: the written model's noisy "
                            "accuracy is ") and "no candidate kept" in w
               for w in report["harden"]["after"]["warnings"])  # fmt: skip
    assert "--max-accuracy-drop 0 not met" in result.stderr


def test_harden_without_labels_is_a_data_error(tiny_cnn_legacy: Path, tmp_path: Path,
                                               digits_like: tuple[np.ndarray, np.ndarray]) -> None:
    data = tmp_path / "nolabels.npz"
    np.savez(data, x=digits_like[0])
    with pytest.raises(DataError, match="no labels"):
        run_harden(_cfg(tiny_cnn_legacy, data), output=tmp_path / "h.onnx")
    assert not (tmp_path / "h.onnx").exists()


def test_holdout_audits_only_samples_that_fine_tuning_never_saw(
    tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path
) -> None:
    cfg = _cfg(tiny_cnn_legacy, labelled, lam=2.0, holdout=0.3)
    prep = prepare(cfg)
    held, train = hold_out(cfg, prep)
    hashes = [{s.tobytes() for s in ds.x} for ds in (held.dataset, train, prep.dataset)]
    assert (len(held.dataset), len(train)) == (60, 140)
    assert not hashes[0] & hashes[1] and hashes[0] | hashes[1] == hashes[2]
    assert len(held.audit.aux) + len(held.audit.eval) == 60
    assert np.bincount(held.dataset.y).tolist() == [6] * 10  # stratified
    out = tmp_path / "h.onnx"
    report = run_harden(cfg, output=out)
    h = report.harden
    assert h is not None and (h.holdout, h.fine_tune_samples) == (0.3, 140)
    for audit in (report, h.after):  # before and after: the held-out samples alone
        assert (audit.data.fingerprint, audit.data.n_total) == (held.dataset.fingerprint, 60)
    # The written weights are those of a fine-tune on the other 140 samples alone.
    settings = FinetuneSettings(
        lam=2.0, loss="bound", k=2, epochs=2, lr=cfg.harden.lr, batch_size=32,
        freeze_head=False, noise_sigma=SIGMA, seed=derive_seed(cfg.seed, "harden-0"),
    )
    assert prep.model is not None and train.y is not None
    alone = fine_tune(prep.split, prep.feed, train.x, train.y, settings,
                      device=torch.device("cpu"), progress=NullProgress(), label="alone")
    written = alone.write_back(prep.model).graph.initializer
    want = {t.name: numpy_helper.to_array(t) for t in written}
    got = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    assert want.keys() == got.keys()
    assert all(np.array_equal(want[k], got[k]) for k in want)
    assert not all(
        np.array_equal(got[t.name], numpy_helper.to_array(t))
        for t in prep.model.graph.initializer
    )


def test_holdout_zero_fine_tunes_and_audits_on_everything(
    tiny_cnn_legacy: Path, labelled: Path
) -> None:
    cfg = _cfg(tiny_cnn_legacy, labelled)
    prep = prepare(cfg)
    held, train = hold_out(cfg, prep)
    assert held is prep and train is prep.dataset


def test_embedded_noise_is_stochastic_with_sigma_at_the_cut(tiny_cnn_legacy: Path) -> None:
    model = onnx.load(tiny_cnn_legacy)
    clean = split_model(model, "layer3")
    noisy_model = embed_noise(model, clean.cut_tensor, 0.2)
    noisy = split_model(noisy_model, "layer3")
    assert noisy.cut_tensor == clean.cut_tensor  # the name still resolves, now to noisy values
    assert split_model(noisy_model, clean.cut_tensor).cut_tensor == clean.cut_tensor
    x = np.random.default_rng(0).random((64, 1, 28, 28)).astype(np.float32)
    z0 = ort.InferenceSession(clean.encoder.SerializeToString()).run(None, {"input": x})[0]
    enc = ort.InferenceSession(noisy.encoder.SerializeToString())
    z1, z2 = (enc.run(None, {"input": x})[0] for _ in range(2))
    assert not np.allclose(z1, z2)
    assert np.std(z1 - z0) == pytest.approx(0.2, rel=0.05) and abs(np.mean(z1 - z0)) < 0.01
    full = ort.InferenceSession(noisy_model.SerializeToString())
    assert not np.allclose(*(full.run(None, {"input": x})[0] for _ in range(2)))  # head: noisy
    stripped = strip_embedded_noise(noisy_model)
    assert [n.name for n in stripped.graph.node] == [n.name for n in model.graph.node]
    assert list(stripped.graph.node) == list(model.graph.node)


def test_save_model_is_atomic_and_returns_the_hash(tmp_path: Path, tiny_cnn_legacy: Path) -> None:
    model = onnx.load(tiny_cnn_legacy)
    path = tmp_path / "sub" / "m.onnx"
    sha = save_model(model, path)
    assert sha == _sha(path) and [p.name for p in path.parent.iterdir()] == ["m.onnx"]


def _variant(label: str, acc: float, mse: float | None, leak: float = 0.1) -> Variant:
    return Variant(label=label, lam=0.0, loss="none", noise_sigma=0.1, seeds=1,
                   clean_accuracy=acc, noisy_accuracy=acc, noisy_accuracy_std=0.0,
                   decoder_mse=mse, decoder_mse_std=0.0, leakage_bits_per_dim=leak,
                   mse_floor=0.0, paper_floor=0.0, feature_mean=0.5, feature_std=0.1,
                   within_class_share=0.5)


def test_choose_keeps_the_most_private_model_within_the_budget() -> None:
    grid = [_variant("a", 0.95, 0.02), _variant("b", 0.94, 0.03, leak=0.2),
            _variant("c", 0.94, 0.03, leak=0.1), _variant("d", 0.80, 0.09)]
    index, why = choose(grid, 2.0, 0.955)
    assert index == 2 and "within 2 points" in why
    index, why = choose(grid, 0.1, 0.999)
    assert index == 0 and "no candidate" in why


def test_the_budget_is_kept_by_the_written_model_not_by_the_mean_over_seeds() -> None:
    """A reviewer (2026-12-08): `--seeds 2 --max-accuracy-drop 9.5` kept lambda 16 as its two
    fine-tunes averaged 0.8767 noisy accuracy, above the budget's 0.8725, and exited 0, while
    the model written (seed 0's) has 0.865. The budget is judged on the written model."""
    from dataclasses import replace

    split = replace(_variant("cem", 0.8767, 0.05), seeds=2, seed_noisy_accuracy=(0.865, 0.8884))
    safe = replace(_variant("cem", 0.90, 0.03), seeds=2, seed_noisy_accuracy=(0.90, 0.90))
    assert not within_budget(split, 9.5, 0.9675) and within_budget(safe, 9.5, 0.9675)
    index, why = choose([split, safe], 9.5, 0.9675)
    assert index == 1 and "the written model's, seed 0's" in why and "(it has 0.9)" in why
    index, why = choose([split], 9.5, 0.9675)
    assert index == 0 and why.startswith("no candidate kept") and "(0.865)" in why


def test_choose_without_attacks_says_it_kept_the_lowest_leakage() -> None:
    """With --no-attacks the reason read "the largest strongest-attack MSE (nan)"."""
    grid = [_variant("a", 0.95, None, leak=0.3), _variant("b", 0.95, None, leak=0.1)]
    index, why = choose(grid, 2.0, 0.955)
    assert index == 1 and "the lowest leakage (0.1 bits/dim; no attack was run)" in why
    assert "nan" not in why


def test_freeze_head_trains_only_the_encoder(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    model = onnx.load(tiny_cnn_legacy)
    split = split_model(model, "layer3")
    settings = FinetuneSettings(lam=1.0, loss="bound", k=2, epochs=2, lr=1e-2, batch_size=32,
                                freeze_head=True, noise_sigma=SIGMA, seed=0)
    done = fine_tune(split, _PIXELS, digits_like[0][:96], digits_like[1][:96], settings,
                     device=torch.device("cpu"), progress=NullProgress(), label="t")
    tuned = done.write_back(model)
    before = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    after = {t.name: numpy_helper.to_array(t) for t in tuned.graph.initializer}
    head_names = {t.name for t in split.head.graph.initializer} - {
        t.name for t in split.encoder.graph.initializer}
    enc_names = {t.name for t in split.encoder.graph.initializer}
    assert all(np.array_equal(before[n], after[n]) for n in head_names)
    assert any(not np.array_equal(before[n], after[n]) for n in enc_names)
    assert [e.epoch for e in done.history] == [1, 2] and done.history[1].cem_loss > 0


def test_labels_beyond_the_head_outputs_are_a_data_error(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    split = split_model(onnx.load(tiny_cnn_legacy), "layer3")
    settings = FinetuneSettings(lam=0.0, loss="bound", k=2, epochs=1, lr=1e-3, batch_size=32,
                                freeze_head=False, noise_sigma=SIGMA, seed=0)
    with pytest.raises(DataError, match="labels 5..12 do not fit the head's 10 outputs"):
        fine_tune(split, _PIXELS, digits_like[0][:8], np.arange(8) + 5, settings,
                  device=torch.device("cpu"), progress=NullProgress(), label="t")


def test_assess_reads_an_embedded_noise_model(
    tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path
) -> None:
    from privaudit.audit import run_assess
    from privaudit.model import set_metadata

    model = onnx.load(tiny_cnn_legacy)
    cut = split_model(model, "layer3").cut_tensor
    noisy = set_metadata(embed_noise(model, cut, SIGMA), {"privaudit.noise_sigma": str(SIGMA)})
    path = tmp_path / "noisy.onnx"
    save_model(noisy, path)
    cfg = Config(model=path, split="layer3", data=labelled, max_eval=50,
                 attacks=AttacksConfig(enabled=()), bound=BoundConfig(bootstrap=0, k=2))
    report = run_assess(cfg)
    assert report.model.split_max_diff == 0.0  # audited deterministically, noise stripped
    assert report.model.noise_source == "model metadata"
    assert report.bound is not None and report.bound.noise_sigma == SIGMA


@pytest.mark.gpu
def test_harden_on_cuda(tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_cnn_legacy, labelled, lam=2.0, loss="bound")
    out = tmp_path / "hardened.onnx"
    report = run_harden(dataclasses.replace(cfg, device="cuda"), output=out)
    h = report.harden
    assert h is not None and len(h.history) == 2 and h.history[1].cem_loss > 0.0
    assert all(np.isfinite(e.task_loss) for e in h.history)
    assert h.after.bound is not None and h.after.bound.leakage_nats is not None
    assert report.provenance.device.startswith("cuda")
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    logits = ort.InferenceSession(str(out)).run(None, {"input": x})[0]
    assert logits.shape == (3, 10) and np.isfinite(logits).all()


def test_a_model_with_embedded_noise_is_audited_at_its_own_sigma(
    tiny_cnn_legacy: Path, tmp_path: Path
) -> None:
    """`assess emb.onnx --noise 0.5` on a model whose graph adds 0.1 reported noisy accuracy
    25.5% and attacks at 0.5: a deployment that cannot happen."""
    from typer.testing import CliRunner

    from privaudit.cli.app import app
    from privaudit.model import metadata, set_metadata

    model = onnx.load(tiny_cnn_legacy)
    cut = split_model(model, "layer3").cut_tensor
    noisy = set_metadata(embed_noise(model, cut, 0.1),
                         {metadata.NOISE_SIGMA: "0.1", metadata.SPLIT: "layer3"})  # fmt: skip
    path = tmp_path / "emb.onnx"
    save_model(noisy, path)
    x = np.random.default_rng(0).random((60, 1, 28, 28)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(60) % 10)
    runner = CliRunner()
    base = ["assess", str(path), "--data", str(tmp_path / "d.npz"), "--no-attacks", "-q"]
    other = runner.invoke(app, [*base, "--noise", "0.5", "-o", str(tmp_path / "a")])
    assert other.exit_code == 2
    assert "adds noise of sigma 0.1 inside its graph" in other.stderr
    own = runner.invoke(app, [*base, "-o", str(tmp_path / "b")])
    assert own.exit_code == 0, own.stderr
    same = runner.invoke(app, [*base, "--noise", "0.1", "-o", str(tmp_path / "c")])
    assert same.exit_code == 0, same.stderr
    # other sigmas of a noise sweep or a sweep, and a cut before the noise, cannot happen
    swept = runner.invoke(app, [*base, "--noise-sweep", "0.05,0.2", "-o", str(tmp_path / "d")])
    assert swept.exit_code == 2 and "at sigma 0.05 describes a deployment" in swept.stderr
    earlier = runner.invoke(app, [*base, "--split", "layer2", "-o", str(tmp_path / "e")])
    assert earlier.exit_code == 2 and "adds its noise inside its graph at" in earlier.stderr
    grid = ["sweep", str(path), "--data", str(tmp_path / "d.npz"), "--no-attacks", "-q"]
    for extra, hint in ((["--splits", "layer3", "--noise", "0.1,0.2"], "give --noise 0.1 alone"),
                        (["--splits", "layer2,layer3", "--noise", "0.1"], "--splits layer3"),
                        (["--splits", "layer3"], "give --noise 0.1 alone")):  # default grid
        refused = runner.invoke(app, [*grid, *extra, "-o", str(tmp_path / "f")])
        assert refused.exit_code == 2, refused.stderr
        assert "inside its graph" in refused.stderr
        assert hint in refused.stderr and "leave --noise out" not in refused.stderr
    kept = runner.invoke(app, [*grid, "--splits", "layer3", "--noise", "0.1", "-o",
                               str(tmp_path / "g")])  # the hint's command works
    assert kept.exit_code == 0, kept.stderr


def test_a_cut_before_the_embedded_noise_is_refused_even_without_its_sigma(
    tiny_cnn_legacy: Path, tmp_path: Path
) -> None:
    """With `privaudit.noise_sigma` stripped from the metadata the cut went unchecked: a cut
    before the noisy tensor, whose features the device sends clean, was audited with noise."""
    from typer.testing import CliRunner

    from privaudit.cli.app import app

    model = onnx.load(tiny_cnn_legacy)
    path = tmp_path / "emb.onnx"
    save_model(embed_noise(model, split_model(model, "layer3").cut_tensor, 0.1), path)
    x = np.random.default_rng(0).random((60, 1, 28, 28)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(60) % 10)
    base = ["assess", str(path), "--data", str(tmp_path / "d.npz"), "--no-attacks", "-q",
            "--noise", "0.1"]
    runner = CliRunner()
    earlier = runner.invoke(app, [*base, "--split", "layer2", "-o", str(tmp_path / "a")])
    assert earlier.exit_code == 2, earlier.stderr
    assert "adds its noise inside its graph at" in earlier.stderr
    assert "--split None" not in earlier.stderr
    own = runner.invoke(app, [*base, "--split", "layer3", "-o", str(tmp_path / "b")])
    assert own.exit_code == 0, own.stderr
    # the sigma is read off the graph itself: any other is refused (a tester's --noise 5 read
    # a floor 12 times the deployment's), and none given means the graph's own
    other = runner.invoke(app, [*base[:-2], "--noise", "5", "--split", "layer3", "-o",
                                str(tmp_path / "c")])  # fmt: skip
    assert other.exit_code == 2, other.stderr
    assert "adds noise of sigma 0.1 inside its graph" in other.stderr
    assert "leave --noise out" in other.stderr
    swept = runner.invoke(app, [*base, "--split", "layer3", "--noise-sweep", "0.05", "-o",
                                str(tmp_path / "d")])  # fmt: skip
    assert swept.exit_code == 2 and "leave the other sigmas out" in swept.stderr
    bare = runner.invoke(app, [*base[:-2], "--split", "layer3", "-o", str(tmp_path / "e")])
    assert bare.exit_code == 0, bare.stderr
    import json

    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["bound"]["noise_sigma"] == pytest.approx(0.1)
    assert report["model"]["noise_source"] == "model graph"
    assert report["model"]["embedded_noise"] is True


def test_a_model_that_adds_its_own_noise_stays_noisy_when_hardened(
    tiny_cnn_legacy: Path, labelled: Path, tmp_path: Path
) -> None:
    """Hardening a model made with --embed-noise wrote one without the noise, silently: put
    in its place, the deployment ran with none, while the after-audit assumed sigma."""
    from privaudit.model import metadata, set_metadata

    model = onnx.load(tiny_cnn_legacy)
    cut = split_model(model, "layer3").cut_tensor
    path = tmp_path / "emb.onnx"
    save_model(set_metadata(embed_noise(model, cut, SIGMA),
                            {metadata.NOISE_SIGMA: str(SIGMA)}), path)  # fmt: skip
    cfg = dataclasses.replace(_cfg(path, labelled, lam=2.0), noise=None)
    kept = run_harden(cfg, output=tmp_path / "kept.onnx").harden
    assert kept is not None and kept.embed_noise
    assert kept.after.model.embedded_noise  # the written model's, not the input's
    written = onnx.load(tmp_path / "kept.onnx")
    assert any(n.op_type == "RandomNormalLike" for n in written.graph.node)
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "kept.onnx"))
    first, second = (session.run(None, {"input": x})[0] for _ in range(2))
    assert not np.allclose(first, second)  # it draws noise
    no = dataclasses.replace(cfg, harden=dataclasses.replace(cfg.harden, embed_noise=False))
    written_report = run_harden(no, output=tmp_path / "dropped.onnx")
    dropped = written_report.harden
    assert dropped is not None and not dropped.embed_noise
    assert not dropped.after.model.embedded_noise
    assert any("runs with no noise unless sigma" in w for w in dropped.after.warnings)
    from privaudit.reports import get_reporter  # the written reports say it too

    markdown = get_reporter("markdown").render(written_report)
    assert "- hardened model: " in markdown and "runs with no noise unless sigma" in markdown
    other = dataclasses.replace(cfg, noise=2 * SIGMA)
    with pytest.raises(ConfigError, match="adds noise of sigma .* inside its graph"):
        run_harden(other, output=tmp_path / "other.onnx")
    assert not (tmp_path / "other.onnx").exists()
    swept = dataclasses.replace(cfg, noise_sweep=(SIGMA / 2,))
    with pytest.raises(ConfigError, match="describes a deployment it cannot have"):
        run_harden(swept, output=tmp_path / "swept.onnx")


def test_an_encoder_without_weights_is_refused_not_an_internal_error() -> None:
    """A reviewer (2026-12-08): an encoder with nothing to train ended in "internal error
    (please report): optimizer got an empty parameter list" (exit 3), or trained the head
    alone. It is refused as a model error (exit 2) with a hint."""
    from onnx import TensorProto, helper

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="cut"),
             helper.make_node("MatMul", ["r", "w"], ["y"], name="fc")]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["N", 3])], [w])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    split = split_model(model, "r")
    settings = FinetuneSettings(lam=1.0, loss="bound", k=2, epochs=1, lr=1e-3, batch_size=8,
                                freeze_head=False, noise_sigma=SIGMA, seed=0)
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    with pytest.raises(ModelError, match="the encoder has no weights to fine-tune") as e:
        fine_tune(split, Feed.pixels(Normalization(), (4,)), x, np.arange(16) % 3, settings,
                  device=torch.device("cpu"),
                  progress=NullProgress(), label="t")
    assert "initializers" in (e.value.hint or "")


def test_a_model_broken_by_fine_tuning_is_warned(tmp_path: Path) -> None:
    """A reviewer (2026-12-08): `--lr 1e6` left the demo CNN at chance accuracy (10.8%),
    exit 0, with a verdict of lower leakage and a higher floor than the original: no word.
    The hardened model's warnings say its accuracy fell to chance level."""
    from typer.testing import CliRunner

    from privaudit.cli import app

    args = ["harden", "--split", "layer3", "--limit", "300", "--noise", "0.1", "--epochs", "2",
            "--lr", "1e6", "--no-attacks", "-o", str(tmp_path / "h.onnx"),
            "--output-dir", str(tmp_path / "rep"), "-f", "json", "-q"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["harden"]["after"]["utility"]["clean_accuracy"] < 0.3
    assert any(w.startswith("the hardened model's clean accuracy fell to chance level")
               for w in report["harden"]["after"]["warnings"])  # fmt: skip
