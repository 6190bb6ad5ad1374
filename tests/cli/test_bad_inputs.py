"""Issue 7: every bad input exits 2 with one `error:` line and one `hint:` line, no traceback.

One table, one row per bad input, across `layers`, `assess`, `harden`, `report` and `check`.
Each row also checks that nothing was written (not even the output folder the run created)
and that no input file changed (by hash).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()
FAST = ["--no-attacks", "--limit", "60", "-q"]
OPSET = [helper.make_opsetid("", 17)]


def _value(name: str, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _graph_model(
    nodes: list[onnx.NodeProto], inputs: list[str],
    opsets: list[onnx.OperatorSetIdProto] | None = None,
) -> onnx.ModelProto:
    image: list[int | str] = ["N", 1, 28, 28]
    graph = helper.make_graph(
        nodes, "g", [_value(i, image) for i in inputs], [_value("y", image)],
        initializer=[onnx.numpy_helper.from_array(np.ones((1, 1, 28, 28), np.float32), "w")],
    )
    return helper.make_model(graph, opset_imports=OPSET + (opsets or []), ir_version=8)


def _models(kit: Path, cnn: Path, resnet: Path, dynamic: Path) -> None:
    """The model files of the table (copies, so that hashes are checked on the kit's files)."""
    shutil.copy(cnn, kit / "cnn.onnx")
    shutil.copy(resnet, kit / "resnet.onnx")
    shutil.copy(dynamic, kit / "dynamic.onnx")
    data = (kit / "cnn.onnx").read_bytes()
    (kit / "empty.onnx").write_bytes(b"")
    (kit / "truncated.onnx").write_bytes(data[: len(data) // 3])
    (kit / "notonnx.onnx").write_text("<html>this is not a model</html>\n")
    (kit / "folder.onnx").mkdir()
    custom = [helper.make_node("Relu", ["x"], ["a"]),
              helper.make_node("MyOp", ["a"], ["y"], domain="com.example")]
    onnx.save(_graph_model(custom, ["x"], opsets=[helper.make_opsetid("com.example", 1)]),
              kit / "custom.onnx")
    # x and m both feed the cut: nothing tells which one is the image
    both = [helper.make_node("Add", ["x", "m"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
            helper.make_node("Mul", ["b", "w"], ["y"])]
    onnx.save(_graph_model(both, ["x", "m"]), kit / "two_inputs.onnx")
    # m is used after the cut only
    late = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Mul", ["a", "w"], ["b"]),
            helper.make_node("Add", ["b", "m"], ["y"])]
    onnx.save(_graph_model(late, ["x", "m"]), kit / "late_input.onnx")
    ext = kit / "ext"
    ext.mkdir()
    onnx.save(_graph_model(late, ["x", "m"]), ext / "m.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    model = onnx.load(ext / "m.onnx", load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../cnn.onnx"
    onnx.save(model, ext / "m.onnx")
    meta = onnx.load(kit / "cnn.onnx")
    helper.set_model_props(meta, {"privaudit.noise_sigma": "-0.5", "privaudit.split": "layer3"})
    onnx.save(meta, kit / "negative_sigma.onnx")


def _data(kit: Path) -> None:
    g = np.random.default_rng(0)
    x = g.random((60, 1, 28, 28)).astype(np.float32)
    y = np.arange(60) % 10
    np.savez(kit / "ok.npz", x=x, y=y)
    np.savez(kit / "unlabeled.npz", x=x)
    np.savez(kit / "two_channels.npz", x=np.repeat(x, 2, axis=1), y=y)
    np.savez(kit / "small.npz", x=x[:, :, :20, :20], y=y)
    np.savez(kit / "no_samples.npz", x=x[:0], y=y[:0])
    np.savez(kit / "flat.npz", x=x.reshape(60, -1), y=y)
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        bad = x.copy()
        bad[7, 0, 3, 3] = value
        np.savez(kit / f"{name}.npz", x=bad, y=y)
    np.save(kit / "pickled.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (kit / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated zip")
    (kit / "empty_folder").mkdir()
    mixed = kit / "mixed_sizes"
    mixed.mkdir()
    for i, size in enumerate([(28, 28), (28, 28), (20, 24)]):
        Image.fromarray(np.full(size, 40 * i, np.uint8)).save(mixed / f"{i}.png")


def _vectors(kit: Path, mlp: Path, cnn1d: Path) -> None:
    """Issue 15: a tabular and a signal model, tables and arrays of their data."""
    shutil.copy(mlp, kit / "mlp.onnx")
    shutil.copy(cnn1d, kit / "cnn1d.onnx")
    g = np.random.default_rng(0)
    frame = pd.DataFrame(g.normal(50, 10, (60, 12)), columns=[f"x{i}" for i in range(12)])
    frame["label"] = np.arange(60) % 3
    frame.to_csv(kit / "table.csv", index=False)
    frame.drop(columns="label").to_csv(kit / "unlabeled.csv", index=False)
    frame.assign(note="abc").to_csv(kit / "text.csv", index=False)
    frame.assign(x1=frame["x1"].where(frame.index != 2)).to_csv(kit / "nan.csv", index=False)
    np.savez(kit / "eleven.npz", x=frame.to_numpy()[:, :11], y=frame["label"].to_numpy())
    signals = g.normal(0, 3, (60, 2, 32)).astype(np.float32)
    signals[5, 1, 9] = np.inf
    np.savez(kit / "inf_signal.npz", x=signals, y=np.arange(60) % 3)
    np.savez(kit / "minus_one.npz", x=g.uniform(-1, 1, (60, 1, 28, 28)).astype(np.float32),
             y=np.arange(60) % 10)


def _configs(kit: Path) -> None:
    (kit / "sigma_text.toml").write_text('[tool.privaudit]\nnoise = "abc"\n')
    (kit / "sigma_nan.toml").write_text("[tool.privaudit]\nnoise = nan\n")
    (kit / "typo.toml").write_text("[tool.privaudit.gate]\nmin_mse_flor = 0.1\n")
    (kit / "binary.toml").write_bytes(b"\xff\xfe\x00[tool]")
    (kit / "not_table.toml").write_text('[tool]\nprivaudit = "model.onnx"\n')
    (kit / "no_tool.toml").write_text("[privaudit.gate]\nmax_leakage = 0.01\n")
    (kit / "tool_typo.toml").write_text("[tool.privadit.gate]\nmax_leakage = 0.01\n")
    (kit / "other_tool.toml").write_text("[tool.black]\nline-length = 100\n")
    (kit / "gan_typo.toml").write_text("[tool.privaudit.attacks.gan]\nepochz = 3\n")
    (kit / "limit_float.toml").write_text("[tool.privaudit]\nlimit = 1.5\n")
    (kit / "enabled_typo.toml").write_text('[tool.privaudit.attacks]\nenabled = ["decodr"]\n')
    (kit / "quoted_sigma.toml").write_text('[tool.privaudit]\nnoise = "0.1"\n')
    (kit / "presplit.toml").write_text('[tool.privaudit]\nencoder = "cnn.onnx"\n')
    (kit / "recovered_percent.toml").write_text("[tool.privaudit.gate]\nmax_recovered = 50\n")
    (kit / "sweep_percent.toml").write_text("[tool.privaudit.sweep]\nmax_recovered = 50\n")


def _reports(kit: Path) -> None:
    code = runner.invoke(app, ["assess", *FAST, "-o", str(kit / "run")]).exit_code
    assert code == 0
    report = json.loads((kit / "run" / "report.json").read_text())
    (kit / "wrong_schema.json").write_text(json.dumps({**report, "schema_version": 99}))
    (kit / "extra_field.json").write_text(json.dumps({**report, "extra_field": 1}))
    (kit / "no_attacks.json").write_text(json.dumps({k: v for k, v in report.items()
                                                     if k != "attacks"}))  # fmt: skip
    refs = [{**r, "mse": -0.5} if i == 0 else r for i, r in enumerate(report["references"])]
    (kit / "negative_mse.json").write_text(json.dumps({**report, "references": refs}))
    (kit / "accuracy_2.json").write_text(json.dumps(
        {**report, "utility": {**report["utility"], "noisy_accuracy": 2.0}}))
    (kit / "infinite_floor.json").write_text(json.dumps(
        {**report, "bound": {**report["bound"], "mse_floor": float("inf")}}))
    report["provenance"]["timings"]["bound"] = "<b>slow</b>"
    (kit / "tampered.json").write_text(json.dumps(report))
    (kit / "not_json.json").write_text("{this is not json")
    (kit / "deep.json").write_text("[" * 100_000)


@pytest.fixture(scope="module")
def kit(
    tmp_path_factory: pytest.TempPathFactory, tiny_cnn_legacy: Path, tiny_resnet_legacy: Path,
    tiny_cnn: nn.Module, onnx_export: Callable[..., Path], tiny_mlp_legacy: Path,
    tiny_cnn1d_legacy: Path,
) -> Path:
    """A folder of bad (and a few good) models, data, configs and reports."""
    kit = tmp_path_factory.mktemp("kit")
    dynamic = onnx_export(tiny_cnn, kit / "dyn.tmp.onnx", dynamic_spatial=True)
    _models(kit, tiny_cnn_legacy, tiny_resnet_legacy, dynamic)
    dynamic.unlink()
    _data(kit)
    _vectors(kit, tiny_mlp_legacy, tiny_cnn1d_legacy)
    _configs(kit)
    _reports(kit)
    return kit


class Case(NamedTuple):
    """One row: the command line ({kit} and {out} are filled in) and a part of the error."""

    args: str
    message: str


MODEL = "{kit}/cnn.onnx --split layer3 --noise 0.1"
ASSESS = "assess " + MODEL + " --data {kit}/ok.npz -o {out}"
NO_SIGMA = ASSESS.replace("--noise 0.1 ", "")
HARDEN = "harden {kit}/cnn.onnx --split layer3 --noise 0.1 --epochs 2 --output-dir {out}"
TABLE = "assess {kit}/mlp.onnx --split layer2 --noise 0.1 --data {kit}/table.csv -o {out}"
SWEEP = "sweep {kit}/cnn.onnx --data {kit}/ok.npz --noise 0,0.1 --no-attacks --jobs 1 -o {out}"

CASES: dict[str, Case] = {
    # --- model files
    "missing model": Case("layers {kit}/nope.onnx", "model file not found"),
    "empty model": Case("layers {kit}/empty.onnx", "is empty"),
    "truncated model": Case("layers {kit}/truncated.onnx", "is not an ONNX model"),
    "not ONNX": Case("layers {kit}/notonnx.onnx", "is not an ONNX model"),
    "model is a folder": Case("layers {kit}/folder.onnx", "is a directory"),
    "custom-domain op": Case("assess {kit}/custom.onnx --split a --noise 0.1 "
                             "--data {kit}/ok.npz -o {out}", "custom domains: com.example.MyOp"),
    "external data outside": Case("layers {kit}/ext/m.onnx", "outside the model's folder"),
    "unknown layers format": Case("layers {kit}/cnn.onnx -f xml", "unknown --format 'xml'"),
    # --- inputs and splits
    "dynamic size, flat data": Case("assess {kit}/dynamic.onnx --split layer3 --noise 0.1 "
                                    "--data {kit}/flat.npz -o {out}", "image size is dynamic"),
    "which input is the image": Case("assess {kit}/two_inputs.onnx --split b --noise 0.1 "
                                     "--data {kit}/ok.npz -o {out}", "would need 2 inputs"),
    "second input after cut": Case("assess {kit}/late_input.onnx --split b --noise 0.1 "
                                   "--data {kit}/ok.npz -o {out}", "crossed by graph input 'm'"),
    "dynamic size, mixed images": Case("assess {kit}/dynamic.onnx --split layer3 --noise 0.1 "
                                       "--data {kit}/mixed_sizes -o {out}",
                                       "images have different sizes"),
    "encoder with two inputs": Case("assess --encoder {kit}/two_inputs.onnx --noise 0.1 "
                                    "--data {kit}/ok.npz -o {out}", "has 2 inputs and 1 outputs"),
    "unknown split": Case(ASSESS.replace("layer3", "layer9"), "split 'layer9' not found"),
    "split at the input": Case(ASSESS.replace("layer3", "input"), "at the model input"),
    "split at the output": Case(ASSESS.replace("layer3", "logits"), "at the model output"),
    "split crossed by skip": Case(
        "assess {kit}/resnet.onnx --split /layer2/layer2.0/Relu_output_0 --noise 0.1 "
        "--data {kit}/ok.npz -o {out}", "crossed by tensor '/layer1/layer1.0/Relu_1_output_0'"),
    "empty split name": Case(ASSESS.replace("layer3", "''"), "split: expected a layer name"),
    "split name is markup": Case(ASSESS.replace("layer3", "[/]"), "split '[/]' not found"),
    # --- data
    "data not found": Case(ASSESS.replace("ok.npz", "nope.npz"), "data not found"),
    "wrong channel count": Case(ASSESS.replace("ok.npz", "two_channels.npz"),
                                "expected 1 channels, found 2"),
    "wrong image size": Case(ASSESS.replace("ok.npz", "small.npz"),
                             "expected 28x28 pixels, found 20x20"),
    "no samples": Case(ASSESS.replace("ok.npz", "no_samples.npz"), "no samples"),
    "empty image folder": Case(ASSESS.replace("ok.npz", "empty_folder"), "no PNG/JPEG/BMP"),
    "NaN in data": Case(ASSESS.replace("ok.npz", "nan.npz"), "1 NaN or infinite values"),
    "infinity in data": Case(ASSESS.replace("ok.npz", "inf.npz"), "1 NaN or infinite values"),
    "pickled data": Case(ASSESS.replace("ok.npz", "pickled.npy"), "Python objects"),
    "corrupt npz": Case(ASSESS.replace("ok.npz", "corrupt.npz"), "cannot read"),
    "conflicting input shape": Case(ASSESS + " --input-shape 3,28,28", "conflicts with the model"),
    # --- sigma
    "negative sigma": Case(ASSESS.replace("0.1", "-1"), "expected a finite sigma >= 0, got -1"),
    "non-numeric sigma": Case(ASSESS.replace("0.1", "abc"), "Invalid value for '--noise'"),
    "non-numeric sigma in config": Case(NO_SIGMA + " --config {kit}/sigma_text.toml",
                                        "noise: expected a number, got 'abc'"),
    "NaN sigma in config": Case(NO_SIGMA + " --config {kit}/sigma_nan.toml",
                                "expected a finite sigma"),
    "negative sigma in metadata": Case("assess {kit}/negative_sigma.onnx --data {kit}/ok.npz "
                                       "-o {out}", "privaudit.noise_sigma: expected a finite"),
    "negative noise sweep": Case(ASSESS + " --noise-sweep 0,-0.1", "noise_sweep: expected"),
    # NOTE: a reviewer (2026-12-08): "1 1 1" was read as 111 (a --std tenfold too large)
    "spaces between values": Case(TABLE + " --std '1 1 1'",
                                  "std: expected comma-separated numbers, got '1 1 1'"),
    "spaces in a noise sweep": Case(ASSESS + " --noise-sweep '0 0.5'",
                                    "noise_sweep: expected comma-separated numbers"),
    "an empty value": Case(ASSESS + " --noise-sweep 0,,0.5", "noise_sweep: expected comma-"),
    # --- names, formats, config, outputs
    "unknown attack": Case(ASSESS + " --attacks decodr", "unknown attack 'decodr'"),
    "unknown format": Case(ASSESS + " -f pdf", "unknown report format 'pdf'"),
    "unknown budget": Case(ASSESS + " --budget huge", "attacks.budget: unknown value 'huge'"),
    "unknown config key": Case(ASSESS + " --config {kit}/typo.toml",
                               "unknown config key 'gate.min_mse_flor'"),
    "config not UTF-8": Case(ASSESS + " --config {kit}/binary.toml", "not valid UTF-8 TOML"),
    "negative seed": Case(ASSESS + " --seed -1", "seed: expected a non-negative number"),
    "zero limit": Case(ASSESS + " --limit 0", "limit: expected a positive number"),
    "config not found": Case(ASSESS + " --config {kit}/nope.toml", "config file not found"),
    "config is a folder": Case(ASSESS + " --config {kit}", "is a folder, not a file"),
    "config without tool.": Case(ASSESS + " --config {kit}/no_tool.toml",
                                 "[privaudit] is not read; privaudit's settings go under"),
    "config tool typo": Case(ASSESS + " --config {kit}/tool_typo.toml", "[tool.privadit] is not"),
    "config of another tool": Case(ASSESS + " --config {kit}/other_tool.toml",
                                   "has no [tool.privaudit] table"),
    "tool.privaudit not a table": Case(ASSESS + " --config {kit}/not_table.toml",
                                       "tool.privaudit must be a table"),
    "unknown option": Case(ASSESS + " --nosie 1", "No such option: --nosie"),
    "output folder is a file": Case(ASSESS.replace("{out}", "{kit}/cnn.onnx/sub"),
                                    "cannot write to output folder"),
    # --- harden
    "harden without labels": Case(HARDEN + " --data {kit}/unlabeled.npz -o {out}/h.onnx",
                                  "the data has no labels"),
    "harden -o is the model": Case(HARDEN + " --data {kit}/ok.npz -o {kit}/cnn.onnx",
                                   "would overwrite the input model"),
    "harden -o is the data": Case(HARDEN + " --data {kit}/ok.npz -o {kit}/ok.npz",
                                  "would overwrite the input data"),
    "harden -o is a report": Case(HARDEN + " --data {kit}/ok.npz -o {out}/report.json",
                                  "also where a report goes"),
    "harden -o is a folder": Case(HARDEN + " --data {kit}/ok.npz -o {kit}",
                                  "is a folder, not a file name"),
    "harden with sigma 0": Case(HARDEN.replace("0.1", "0") + " --data {kit}/ok.npz "
                                "-o {out}/h.onnx", "the noise sigma is 0"),
    "harden holdout 1": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx --holdout 1",
                             "harden.holdout: expected a number in [0, 1)"),
    # NOTE: a reviewer (2026-12-08): --k 100000 on 40 samples a class ran out of memory
    "harden k above a class": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx --k 5000",
                                   "harden.k: 5000 cells per class, but the largest class has"),
    "harden holdout too small": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx "
                                     "--holdout 0.01", "cannot hold out 0.01 of 60 samples"),
    # --- report and check
    "report: missing": Case("report {kit}/nope.json --output-dir {out}", "cannot read report"),
    "report: not JSON": Case("report {kit}/not_json.json --output-dir {out}",
                             "is not a privaudit report"),
    "report: wrong schema": Case("report {kit}/wrong_schema.json --output-dir {out}",
                                 "unsupported report schema_version 99"),
    "report: tampered values": Case("report {kit}/tampered.json -f markdown --output-dir {out}",
                                    "wrong value type at provenance.timings.bound"),
    "report: unknown format": Case("report {kit}/run/report.json -f pdf --output-dir {out}",
                                   "unknown report format 'pdf'"),
    "report: overwrite input": Case("report {kit}/run/report.json -f html,json",
                                    "would overwrite the input report"),
    "report: output is a file": Case("report {kit}/run/report.json --output-dir {kit}/cnn.onnx",
                                     "cannot write to output folder"),
    "check: missing": Case("check {kit}/nope.json", "cannot read report"),
    "check: a field outside the schema": Case("check {kit}/extra_field.json",
                                              "AuditReport: unknown field 'extra_field'"),
    "check: a field deleted": Case("check {kit}/no_attacks.json",
                                   "AuditReport: the field 'attacks' is missing"),
    "check: a negative MSE": Case("check {kit}/negative_mse.json --fail-under-attack-mse 0.1",
                                  "AuditReport.references[0].mse is -0.5, below 0"),
    "check: an accuracy of 2": Case("check {kit}/accuracy_2.json",
                                    "AuditReport.utility.noisy_accuracy is 2.0, above 1"),
    "check: an infinite floor": Case("check {kit}/infinite_floor.json --fail-under-floor 0.1",
                                     "Infinity is not a value privaudit writes"),
    "check: a sweep constraint on a report": Case(
        "check {kit}/run/report.json --min-attack-mse 5", "--min-attack-mse is a sweep constraint"),
    "check: min accuracy on a report": Case("check {kit}/run/report.json --min-accuracy 0.99",
                                            "--min-accuracy is a sweep constraint"),
    "check: binary file": Case("check {kit}/cnn.onnx", "not UTF-8 text"),
    "check: deeply nested": Case("check {kit}/deep.json", "nested too deeply"),
    "check: unknown config key": Case("check {kit}/run/report.json --config {kit}/typo.toml",
                                      "unknown config key 'gate.min_mse_flor'"),
    "check: missing argument": Case("check", "Missing argument"),
    # --- issue 16, item 8: config is validated in full, whatever runs and whatever overrides
    "attack param typo, no attacks": Case(ASSESS + " --no-attacks --config {kit}/gan_typo.toml",
                                          "unknown key attacks.gan.epochz"),
    "config limit 1.5 under --limit": Case(ASSESS + " --limit 50 --config {kit}/limit_float.toml",
                                           "limit: expected int, got 1.5"),
    "config attack typo under --attacks": Case(
        ASSESS + " --attacks knn --config {kit}/enabled_typo.toml", "unknown attack 'decodr'"),
    "quoted sigma in config": Case(NO_SIGMA + " --config {kit}/quoted_sigma.toml",
                                   "noise: expected a number, got '0.1'"),
    "empty format": Case(ASSESS + " -f ''", "formats: expected at least one report format"),
    "xml format": Case(ASSESS + " -f xml", "formats: unknown report format 'xml'"),
    # NOTE: a reviewer (2026-12-08): a negative leakage threshold failed every audit; a
    # negative floor threshold passes every one
    "negative leakage threshold": Case("check {kit}/run/report.json --fail-over-leakage -1",
                                       "gate.max_leakage: expected a leakage >= 0"),
    "negative floor threshold": Case(ASSESS + " --fail-under-floor -0.1",
                                     "gate.min_mse_floor: expected an MSE >= 0"),
    "NaN threshold": Case(ASSESS + " --fail-under-floor nan", "gate.min_mse_floor: expected a "
                          "finite threshold"),
    "negative accuracy drop": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx "
                                   "--max-accuracy-drop -5", "harden.max_accuracy_drop"),
    "baseline scale not a number": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx "
                                        "--baseline --baseline-scales 1.5,abc",
                                        "harden.baseline_scales: expected comma-separated"),
    "negative baseline scale": Case(HARDEN + " --data {kit}/ok.npz -o {out}/h.onnx --baseline "
                                    "--baseline-scales -1", "harden.baseline_scales"),
    "attacks: xml format": Case("attacks -f xml", "unknown --format 'xml'"),
    # --- issue 15: tabular vectors and signals, data in its own units
    "non-numeric column": Case(TABLE.replace("table.csv", "text.csv"),
                               "feature column 'note' is not numeric (row 1 holds 'abc')"),
    "NaN in a table": Case(TABLE.replace("table.csv", "nan.csv"),
                           "the first at row 3, column 'x1'"),
    "unknown label column": Case(TABLE + " --label-column lable", "names column 'lable'"),
    "unknown feature column": Case(TABLE + " --columns x0,x99", "names column 'x99'"),
    "too few feature columns": Case(TABLE + " --columns x0,x1", "expects tabular input (N, 12), "
                                    "found data (N, 2)"),
    "wrong feature count": Case(TABLE.replace("table.csv", "eleven.npz"),
                                "expects tabular input (N, 12), found data (N, 11)"),
    "table for an image model": Case(ASSESS.replace("ok.npz", "table.csv"),
                                     "is a table, but the model takes images"),
    "label column of an npz": Case(ASSESS + " --label-column y", "--label-column names columns "
                                   "of a CSV or Parquet table"),
    "certified h(x) of a table": Case(TABLE + " --input-entropy certified",
                                      "certified needs 8-bit data"),
    "data range of a table": Case(TABLE + " --data-range 0,1", "--data-range gives the range of "
                                  "image pixels or of a signal"),
    "reversed data range": Case(ASSESS + " --data-range 1,0", "data_range: expected two finite"),
    "image floats outside [0, 1]": Case(ASSESS.replace("ok.npz", "minus_one.npz"),
                                        "outside [0, 1] and [0, 255]"),
    "image outside the data range": Case(ASSESS.replace("ok.npz", "minus_one.npz")
                                         + " --data-range 0,1", "leave the given data range"),
    "unknown domain": Case(TABLE + " --domain audio", "domain: unknown value 'audio'"),
    "domain the input cannot hold": Case(TABLE + " --domain image",
                                         "cannot hold image data (N, C, H, W)"),
    "input shape of a table": Case(TABLE + " --input-shape 3,4", "must be 1 positive integers"),
    "infinity in a signal": Case("assess {kit}/cnn1d.onnx --split layer2 --noise 0.1 --data "
                                 "{kit}/inf_signal.npz -o {out}",
                                 "channel 'ch1', time step 9"),
    "harden a table without labels": Case(
        "harden {kit}/mlp.onnx --split layer2 --noise 0.1 --epochs 2 --output-dir {out} --data "
        "{kit}/unlabeled.csv -o {out}/h.onnx", "the data has no labels"),
    "report: empty format": Case("report {kit}/run/report.json -f '' --output-dir {out}",
                                 "expected at least one report format"),
    # --- issue 17: sweep
    "sweep: unknown split": Case(SWEEP + " --splits layer3,layer9", "split 'layer9' not found"),
    "sweep: auto with names": Case(SWEEP + " --splits auto,layer3",
                                   "sweep.splits: expected cut names or 'auto'"),
    "sweep: negative sigma": Case(SWEEP + " --splits layer3 --noise 0,-0.1",
                                  "sweep.noise: expected a finite sigma >= 0"),
    "sweep: zero jobs": Case(SWEEP + " --splits layer3 --jobs 0", "sweep.jobs"),
    "sweep: accuracy above 1": Case(SWEEP + " --splits layer3 --min-accuracy 90",
                                    "sweep.min_accuracy: expected a share in [0, 1]"),
    "sweep: unknown executor": Case(SWEEP + " --splits layer3 --executor slurm",
                                    "unknown executor 'slurm'"),
    "sweep: a pre-split pair": Case("sweep --data {kit}/ok.npz --no-attacks -o {out} --config "
                                    "{kit}/presplit.toml", "a sweep cuts a whole model"),
    "check: a sweep's constraint": Case("check {kit}/run/report.json --min-accuracy 2",
                                        "sweep.min_accuracy: expected a share in [0, 1]"),
    "compare: -o a folder": Case("compare {kit}/run/report.json {kit}/run/report.json "
                                 "-o {kit}/empty_folder", "cannot write"),
    # --- a recovered share is at most 1: a percentage would make the gate pass everything
    "assess: recovered share as a percentage": Case(
        ASSESS + " --fail-over-recovered 50", "gate.max_recovered: expected a share in [0, 1]"),
    "check: recovered share as a percentage": Case(
        "check {kit}/run/report.json --fail-over-recovered 50",
        "gate.max_recovered: expected a share in [0, 1], got 50"),
    "check: negative recovered share": Case(
        "check {kit}/run/report.json --fail-over-recovered -0.1",
        "gate.max_recovered: expected a share in [0, 1], got -0.1"),
    "check: recovered share in the config": Case(
        "check {kit}/run/report.json --config {kit}/recovered_percent.toml",
        "gate.max_recovered: expected a share in [0, 1], got 50"),
    "check: a sweep's recovered share": Case(
        "check {kit}/run/report.json --max-recovered 50",
        "sweep.max_recovered: expected a share in [0, 1], got 50"),
    "check: a sweep's recovered share in the config": Case(
        "check {kit}/run/report.json --config {kit}/sweep_percent.toml",
        "sweep.max_recovered: expected a share in [0, 1], got 50"),
    "sweep: recovered share as a percentage": Case(
        SWEEP + " --splits layer3 --max-recovered 50",
        "sweep.max_recovered: expected a share in [0, 1], got 50"),
}
if not torch.cuda.is_available():  # issue 16, item 11: a report never claims a missing device
    CASES["cuda without CUDA"] = Case(ASSESS + " --no-attacks --device cuda",
                                      "CUDA is not available")


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_the_table_is_big_enough() -> None:
    commands = {case.args.split()[0] for case in CASES.values()}
    assert len(CASES) >= 25
    assert {"layers", "assess", "harden", "report", "check"} <= commands


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_error_and_hint(name: str, kit: Path, tmp_path: Path) -> None:
    case = CASES[name]
    out = tmp_path / "out"
    args = [a.format(kit=kit, out=out) for a in shlex.split(case.args)]
    before = _snapshot(kit)
    result = runner.invoke(app, args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, lines
    assert case.message in lines[errors[0]], lines
    assert lines[errors[0] + 1 :][:1] and lines[errors[0] + 1].startswith("hint: "), lines
    assert errors[0] + 2 == len(lines), lines  # nothing after the hint
    assert _snapshot(kit) == before  # no input changed, nothing written next to them
    assert not out.exists()  # no report, no model, no temp file, not even the new folder


def test_compare_output_is_a_file_in_its_hint(kit: Path, tmp_path: Path) -> None:
    """`compare -o` names a file: its hint is not the output folders' (--output-dir)."""
    report = str(kit / "run" / "report.json")
    result = runner.invoke(app, ["compare", report, report, "-o", str(tmp_path)])
    assert result.exit_code == 2, result.stderr
    hints = [ln for ln in result.stderr.splitlines() if ln.startswith("hint: ")]
    assert hints == ["hint: give -o a writable file path, or leave -o out for stdout"]
    assert not list(tmp_path.iterdir())
