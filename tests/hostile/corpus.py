"""Issue 16, item 12: a corpus of hostile inputs, and the contract each must meet.

`build(kit)` writes every input into the folder `kit`: models, data, configs, saved reports
and files with hostile names. `CASES` is the table: one command line per case (``{kit}`` and
``{out}`` are filled in), the exit code it must give and a part of what it must say
(in the `error:` line for exit 2). tests/hostile/test_corpus.py runs every case and checks
the contract (exit code, one `error:` + one `hint:` line, no traceback, no RuntimeWarning,
no partial file, no input changed); the signal and concurrency cases, which need their own
processes, are there too (`SIGNAL_CASES`).

``python tests/hostile/corpus.py KIT`` writes the corpus for manual runs.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
from hostile_models import (
    classifier,
    demo_with_integer_input,
    demo_with_weights,
    if_node,
    not_logits,
    tabular_classifier,
    unsorted,
)
from onnx import TensorProto, helper
from PIL import Image

from privaudit.demo import demo_data_path, demo_model_path
from privaudit.model import split_model

__all__ = ["CASES", "SIGNAL_CASES", "Case", "add_reports", "build"]


class Case(NamedTuple):
    """One row: the command line, the exit code, and what the output must contain."""

    category: str
    args: str
    code: int
    message: str


# --- the inputs -------------------------------------------------------------------------------


def _models(kit: Path) -> None:
    """Broken, malicious and unusual models (and the valid ones they vary)."""
    demo = demo_model_path().read_bytes()
    (kit / "demo.onnx").write_bytes(demo)
    (kit / "empty.onnx").write_bytes(b"")
    (kit / "truncated.onnx").write_bytes(demo[: len(demo) // 3])
    (kit / "html.onnx").write_text("<html><script>alert(1)</script></html>\n")
    (kit / "folder.onnx").mkdir()
    onnx.save(classifier(), kit / "net.onnx")
    onnx.save(classifier(), kit / "\udcffnet.onnx")  # NOTE: the file name has the byte 0xff
    for opset in (7, 8, 13, 21):
        onnx.save(classifier(opset=opset), kit / f"opset{opset}.onnx")
    onnx.save(classifier(classes=2), kit / "two_classes.onnx")
    onnx.save(classifier(head_fill=float("nan")), kit / "nan_head.onnx")
    onnx.save(classifier(head_fill=float("inf")), kit / "inf_head.onnx")
    onnx.save(classifier(feature_scale=1e20), kit / "huge_features.onnx")
    onnx.save(classifier(input_side=100_000), kit / "huge_input.onnx")
    onnx.save(classifier(input_side="side"), kit / "dynamic.onnx")
    onnx.save(not_logits(), kit / "not_logits.onnx")
    onnx.save(if_node(), kit / "if_node.onnx")
    onnx.save(unsorted(), kit / "unsorted.onnx")
    _integer_models(kit)
    _metadata_models(kit)
    _external_data(kit)
    _custom_and_inputs(kit)


def _integer_models(kit: Path) -> None:
    for name, elem in (("int64", TensorProto.INT64), ("uint8", TensorProto.UINT8),
                       ("int8", TensorProto.INT8)):
        onnx.save(demo_with_integer_input(elem), kit / f"demo_{name}.onnx")
    onnx.save(demo_with_weights("fc.", float("nan")), kit / "demo_nan_head.onnx")
    nan_encoder = split_model(demo_with_weights("layer3.3", float("nan")), "layer3").encoder
    onnx.save(nan_encoder, kit / "nan_encoder.onnx")


def _metadata_models(kit: Path) -> None:
    for name, props in (
        ("meta_negative_sigma", {"privaudit.noise_sigma": "-0.5"}),
        ("meta_text_sigma", {"privaudit.noise_sigma": "abc"}),
        ("meta_tiny_std", {"privaudit.std": "1e-45"}),
        ("meta_markup_split", {"privaudit.split": "[bold]x[/]"}),
    ):
        model = onnx.load(str(demo_model_path()))
        helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, **props})
        onnx.save(model, kit / f"{name}.onnx")


def _external_data(kit: Path) -> None:
    for name, location in (("ext_traversal", "../../etc/passwd"), ("ext_absolute", "/etc/passwd")):
        folder = kit / name
        folder.mkdir()
        onnx.save(classifier(), folder / "m.onnx", save_as_external_data=True,
                  all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
        model = onnx.load(folder / "m.onnx", load_external_data=False)
        for entry in model.graph.initializer[0].external_data:
            if entry.key == "location":
                entry.value = location
        onnx.save(model, folder / "m.onnx")


def _custom_and_inputs(kit: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    m = helper.make_tensor_value_info("m", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 8, 8])
    opsets = [helper.make_opsetid("", 17)]
    custom = helper.make_graph([helper.make_node("Relu", ["x"], ["a"]),
                                helper.make_node("Evil", ["a"], ["y"], domain="com.evil")],
                               "custom", [x], [y])
    onnx.save(helper.make_model(custom, ir_version=8,
                                opset_imports=[*opsets, helper.make_opsetid("com.evil", 1)]),
              kit / "custom_op.onnx")
    both = helper.make_graph([helper.make_node("Add", ["x", "m"], ["a"]),
                              helper.make_node("Relu", ["a"], ["y"])], "both", [x, m], [y])
    onnx.save(helper.make_model(both, opset_imports=opsets, ir_version=8), kit / "two_inputs.onnx")


def _arrays(kit: Path) -> None:
    """.npz and .npy files: valid, broken, forged, pickled, bombs."""
    g = np.random.default_rng(0)
    demo = np.load(demo_data_path())
    x, y = demo["x"], demo["y"].astype(np.int64)
    np.savez(kit / "demo.npz", x=x, y=y)
    small = (g.random((80, 1, 8, 8)) * 255).astype(np.uint8)
    labels = np.arange(80) % 10
    np.savez(kit / "ok.npz", x=small, y=labels)
    np.savez(kit / "floats.npz", x=small / 255 + 0.001, y=labels)
    for name, bad in (("big", 10), ("negative", -1), ("huge", 2**62)):
        wrong = labels.copy()
        wrong[::8] = bad  # NOTE: 10 samples, so any --limit subset keeps some
        np.savez(kit / f"label_{name}.npz", x=small, y=wrong)
    np.savez(kit / "label_float.npz", x=small, y=labels + 0.5)
    np.savez(kit / "label_length.npz", x=small, y=labels[:50])
    np.savez(kit / "two_labels.npz", x=small, y=labels % 2)
    for name, value in (("nan", np.nan), ("inf", np.inf), ("negative", -5.0)):
        bad = (small / 255).astype(np.float32)
        bad[3, 0, 2, 2] = value
        np.savez(kit / f"pixels_{name}.npz", x=bad, y=labels)
    np.savez(kit / "complex.npz", x=small.astype(np.complex64))
    np.savez(kit / "no_x.npz", images=small)
    np.savez(kit / "empty.npz", x=small[:0], y=labels[:0])
    np.savez(kit / "two_channels.npz", x=np.repeat(small, 2, axis=1), y=labels)
    np.savez(kit / "wrong_size.npz", x=small[:, :, :6, :6], y=labels)
    np.savez(kit / "flat.npz", x=small.reshape(80, -1), y=labels)
    np.save(kit / "pickled.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (kit / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (kit / "notes.txt").write_text("not data\n")
    _bombs(kit)


def _bombs(kit: Path) -> None:
    """A compressed .npz declaring 128 MB of pixels, and files whose headers lie."""
    n = 2_000_000
    x = np.zeros((n, 1, 8, 8), np.uint8)
    for i, column in enumerate(np.unravel_index(np.arange(n), (251, 251, 251))):
        x[:, 0, 0, i] = column  # NOTE: every sample distinct, so any subset splits
    np.savez_compressed(kit / "bomb.npz", x=x, y=np.arange(n) % 10)
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 8, 8), np.uint8))
    header["shape"] = (10**9, 1, 8, 8)  # declares 64 GB, holds 64 bytes
    for suffix in ("npy", "npz"):
        with open(kit / f"forged.{suffix}.tmp", "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(bytes(64))
    (kit / "forged.npy.tmp").rename(kit / "forged.npy")
    with zipfile.ZipFile(kit / "forged.npz", "w") as archive:
        archive.write(kit / "forged.npz.tmp", "x.npy")
    (kit / "forged.npz.tmp").unlink()


def _images(kit: Path) -> None:
    """Image folders: a hostile file name, a broken image, a bomb, mixed sizes, 16-bit."""
    good = np.full((8, 8), 128, np.uint8)
    named = kit / "images_named" / "class_a"
    named.mkdir(parents=True)
    (named / "bad\nerror: forged line.png").write_bytes(b"not a png")
    broken = kit / "images_broken" / "a"
    broken.mkdir(parents=True)
    Image.fromarray(good).save(broken / "ok.png")
    (broken / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    bomb = kit / "images_bomb"
    bomb.mkdir()
    (bomb / "bomb.png").write_bytes(_png_header(40_000, 40_000))  # 1.6 G pixels in 45 bytes
    mixed = kit / "images_mixed"
    mixed.mkdir()
    for i, size in enumerate([(8, 8), (8, 8), (6, 7)]):
        Image.fromarray(np.full(size, 40 * i, np.uint8)).save(mixed / f"{i}.png")
    deep = kit / "images_16bit"
    deep.mkdir()
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(deep / "deep.png")
    (kit / "images_empty").mkdir()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` 1-bit pixels and holds none of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _configs(kit: Path) -> None:
    tables = {
        "unknown_key": "[tool.privaudit]\nnoize = 0.1\n",
        "gan_typo": "[tool.privaudit.attacks.gan]\nepochz = 3\n",
        "limit_float": "[tool.privaudit]\nlimit = 1.5\n",
        "enabled_typo": '[tool.privaudit.attacks]\nenabled = ["decodr"]\n',
        "quoted_number": '[tool.privaudit]\nnoise = "0.1"\n',
        "formats_text": '[tool.privaudit]\nformats = "json"\n',
        "device_tpu": '[tool.privaudit]\ndevice = "tpu"\n',
        "k_zero": "[tool.privaudit.bound]\nk = 0\n",
        "eval_fraction": "[tool.privaudit]\neval_fraction = 1.5\n",
        "nan_threshold": "[tool.privaudit.gate]\nmax_leakage = nan\n",
        "syntax": "[tool.privaudit\nnoise = 0.1\n",
        "not_table": '[tool]\nprivaudit = "model.onnx"\n',
    }
    for name, body in tables.items():
        (kit / f"{name}.toml").write_text(body)
    (kit / "binary.toml").write_bytes(b"\xff\xfe\x00[tool]")


def add_reports(kit: Path, report: dict[str, object]) -> None:
    """Saved reports of the demo model, tampered: lone surrogates, control characters, types."""
    text = json.dumps(report)
    assert 'demo.onnx"' in text
    (kit / "surrogate.json").write_text(text.replace('demo.onnx"', '\\ud800demo.onnx"'))
    (kit / "control.json").write_text(
        text.replace('demo.onnx"', '\\u001b[31mdemo\\nerror: x.onnx"'))
    (kit / "wrong_schema.json").write_text(json.dumps({**report, "schema_version": 99}))
    (kit / "not_json.json").write_text("{this is not json")
    (kit / "deep.json").write_text("[" * 100_000)
    tampered = json.loads(text)
    tampered["provenance"]["timings"]["bound"] = "<b>slow</b>"
    (kit / "tampered.json").write_text(json.dumps(tampered))
    # schema 4 packs image samples as a base64 PNG: a few bytes may claim a huge image
    packed = json.loads(text)
    packed["sample_images"] = {"encoding": "png", "shape": [12, 1, 28, 28], "data": "<svg>"}
    (kit / "bad_samples.json").write_text(json.dumps(packed))
    packed["sample_images"] = {"encoding": "png", "shape": [4096, 3, 4096, 4096], "data": ""}
    (kit / "huge_samples.json").write_text(json.dumps(packed))


def _tables(kit: Path) -> None:
    """Issue 15: a tabular model and hostile tables (broken, lying, forging lines)."""
    onnx.save(tabular_classifier(), kit / "mlp.onnx")
    g = np.random.default_rng(0)
    rows = [",".join(f"{v:.6g}" for v in g.normal(50, 10, 4)) + f",{i % 3}" for i in range(80)]
    header = "a,b,c,d,label"
    (kit / "ok.csv").write_text("\n".join([header, *rows]) + "\n")
    (kit / "ragged.csv").write_text("\n".join([header, *rows[:5], "1,2,3,4,5,6,7", *rows[5:]]))
    (kit / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (kit / "empty.csv").write_bytes(b"")
    (kit / "header_only.csv").write_text(header + "\n")
    (kit / "overflow.csv").write_text("\n".join([header, *rows[:7], "1,1e400,1,1,0", *rows[7:]]))
    forged = "a,b,c,'evil\nerror: forged \x1b[2J',label"  # a column name forging a line
    # NOTE: the forged column holds text in every row (its value replaced by x: five fields)
    (kit / "forged_column.csv").write_text(forged.replace("'", '"') + "\n" + "\n".join(
        ",".join(r.split(",")[:3]) + ",x," + r.split(",")[-1] for r in rows))
    (kit / "formula.csv").write_text("\n".join(["a,b,c,=cmd|' /C calc'!A0,label", *rows]) + "\n")
    (kit / "garbage.parquet").write_bytes(b"PAR1 this is not parquet PAR1")


def build(kit: Path) -> Path:
    """Write every input of the corpus into `kit`, except the saved reports (`add_reports`)."""
    kit.mkdir(parents=True, exist_ok=True)
    _models(kit)
    _arrays(kit)
    _tables(kit)
    _images(kit)
    _configs(kit)
    return kit


# --- the table --------------------------------------------------------------------------------

FAST = "--no-attacks --limit 60 -q"
NET = "{kit}/net.onnx --split cut --noise 0.1"
ASSESS = f"assess {NET} --data {{kit}}/ok.npz {FAST} -o {{out}}"
DEMO = f"--data {{kit}}/demo.npz --noise 0.1 {FAST} -o {{out}}"
HARDEN = ("harden {kit}/net.onnx --split cut --noise 0.1 --data {kit}/ok.npz --epochs 2 "
          "--no-attacks -q -o {out}/h.onnx --output-dir {out}")

MODELS = [
    Case("model", "layers {kit}/empty.onnx", 2, "is empty"),
    Case("model", "layers {kit}/truncated.onnx", 2, "is not an ONNX model"),
    Case("model", "layers {kit}/html.onnx", 2, "is not an ONNX model"),
    Case("model", "layers {kit}/folder.onnx", 2, "is a directory"),
    Case("model", "layers {kit}/missing.onnx", 2, "model file not found"),
    Case("model", "layers {kit}/unsorted.onnx", 2, "is not a valid ONNX model"),
    Case("model", "layers {kit}/custom_op.onnx", 2, "custom domains: com.evil.Evil"),
    Case("model", "layers {kit}/ext_traversal/m.onnx", 2, "outside the model's folder"),
    Case("model", "layers {kit}/ext_absolute/m.onnx", 2, "outside the model's folder"),
    Case("model", "assess {kit}/two_inputs.onnx --split a --noise 0.1 --data {kit}/ok.npz -o {out}",
         2, "would need 2 inputs"),
    Case("model", ASSESS.replace("net.onnx", "nan_head.onnx"), 2,
         "the model's output 'logits' has"),
    Case("model", ASSESS.replace("net.onnx", "inf_head.onnx"), 2,
         "the model's output 'logits' has"),
    Case("model", f"assess --encoder {{kit}}/nan_encoder.onnx {DEMO}", 2,
         "the encoder's output (the features), tensor"),
    Case("model", ASSESS.replace("net.onnx", "huge_features.onnx"), 2, "too large to measure"),
    Case("model", f"assess {{kit}}/demo_nan_head.onnx {DEMO}", 2, "the model's output 'logits'"),
    Case("model", ASSESS.replace("net.onnx", "not_logits.onnx"), 0, "accuracy not measured"),
    Case("model", ASSESS.replace("net.onnx", "opset7.onnx"), 0, "accuracy: clean"),
    Case("model", ASSESS.replace("net.onnx", "opset8.onnx"), 0, "accuracy: clean"),
    Case("model", ASSESS.replace("net.onnx", "opset13.onnx"), 0, "accuracy: clean"),
    Case("model", ASSESS.replace("net.onnx", "opset21.onnx"), 0, "accuracy: clean"),
    Case("model", ASSESS.replace("net.onnx", "huge_input.onnx") + " --resize", 2,
         "above the limit max_data_gb = 4"),
    Case("model", f"assess {{kit}}/demo_int64.onnx {DEMO}", 0, r"re:accuracy: clean 9\d\."),
    Case("model", f"assess {{kit}}/demo_uint8.onnx {DEMO}", 0, r"re:accuracy: clean 9\d\."),
    Case("model", f"assess {{kit}}/demo_int8.onnx {DEMO}", 2, "cannot hold image pixels"),
    Case("model", "assess {kit}/demo_int64.onnx --data {kit}/floats.npz --noise 0.1 -o {out} "
         "--input-shape 1,28,28 --resize", 2, "between the 256 levels of 8-bit images"),
    Case("model", HARDEN.replace("net.onnx", "if_node.onnx"), 2,
         "not supported by the torch interpreter: ['If']"),
    Case("model", f"assess {{kit}}/meta_negative_sigma.onnx {DEMO.replace('--noise 0.1 ', '')}",
         2, "privaudit.noise_sigma: expected a finite sigma"),
    Case("model", f"assess {{kit}}/meta_text_sigma.onnx {DEMO.replace('--noise 0.1 ', '')}",
         2, "is not a number"),
    Case("model", f"assess {{kit}}/meta_tiny_std.onnx {DEMO}", 2, "std must be in"),
    Case("model", f"assess {{kit}}/meta_markup_split.onnx {DEMO}", 2, "split '[bold]x[/]'"),
]

DATA = [
    Case("data", ASSESS.replace("ok.npz", "missing.npz"), 2, "data not found"),
    Case("data", ASSESS.replace("ok.npz", "notes.txt"), 2, "unsupported data file notes.txt"),
    Case("data", ASSESS.replace("ok.npz", "pickled.npy"), 2, "Python objects"),
    Case("data", ASSESS.replace("ok.npz", "corrupt.npz"), 2, "cannot read"),
    Case("data", ASSESS.replace("ok.npz", "no_x.npz"), 2, "has no array 'x'"),
    Case("data", ASSESS.replace("ok.npz", "empty.npz"), 2, "no samples"),
    Case("data", ASSESS.replace("ok.npz", "complex.npz"), 2, "x has dtype complex64"),
    Case("data", ASSESS.replace("ok.npz", "pixels_nan.npz"), 2, "1 NaN or infinite values"),
    Case("data", ASSESS.replace("ok.npz", "pixels_inf.npz"), 2, "1 NaN or infinite values"),
    Case("data", ASSESS.replace("ok.npz", "pixels_negative.npz"), 2, "outside [0, 1] and [0, 255]"),
    Case("data", ASSESS.replace("ok.npz", "two_channels.npz"), 2, "expected 1 channels, found 2"),
    Case("data", ASSESS.replace("ok.npz", "wrong_size.npz"), 2, "expected 8x8 pixels, found 6x6"),
    Case("data", ASSESS.replace("net.onnx", "dynamic.onnx").replace("ok.npz", "flat.npz"), 2,
         "image size is dynamic"),
    Case("data", ASSESS.replace("net.onnx", "dynamic.onnx") + " --input-shape 1,100000,100000 "
         "--resize", 2, "above the limit max_data_gb = 4"),
    Case("data", ASSESS.replace("ok.npz", "label_length.npz"), 2, "y has shape (50,)"),
    Case("data", ASSESS.replace("ok.npz", "label_float.npz"), 2, "integer class labels"),
    Case("data", ASSESS.replace("ok.npz", "label_big.npz"), 2, "labels 0..10 do not fit the head"),
    Case("data", ASSESS.replace("ok.npz", "label_negative.npz"), 2, "labels -1..9 do not fit"),
    Case("data", ASSESS.replace("ok.npz", "label_huge.npz"), 2, "4611686018427387904 do not fit"),
    Case("data", HARDEN.replace("ok.npz", "label_big.npz"), 2, "labels 0..10 do not fit the head"),
    Case("data", ASSESS.replace("net.onnx", "two_classes.onnx"), 2, "do not fit the head's 2"),
    Case("data", ASSESS.replace("ok.npz", "two_labels.npz"), 0, "the labels hold 2 classes"),
    Case("data", ASSESS.replace("ok.npz", "bomb.npz").replace("--limit 60", "--limit 100"), 0,
         "wrote"),
    Case("data", ASSESS.replace("ok.npz", "bomb.npz").replace("--limit 60", "") +
         " --max-data-gb 0.05", 2, "above the limit max_data_gb = 0.05"),
    Case("data", ASSESS.replace("ok.npz", "forged.npz"), 2, "a corrupt or forged file"),
    Case("data", ASSESS.replace("ok.npz", "forged.npy"), 2, "cannot read"),
    Case("data", ASSESS.replace("ok.npz", "images_broken"), 2, "cannot read image"),
    Case("data", ASSESS.replace("ok.npz", "images_bomb"), 2, "bomb.png"),
    Case("data", ASSESS.replace("ok.npz", "images_mixed").replace("net.onnx", "dynamic.onnx"), 2,
         "images have different sizes"),
    Case("data", ASSESS.replace("ok.npz", "images_16bit"), 2, "16-bit or float"),
    Case("data", ASSESS.replace("ok.npz", "images_empty"), 2, "no PNG/JPEG/BMP images"),
]

CONFIG = [
    Case("config", ASSESS + " --config {kit}/unknown_key.toml", 2, "unknown config key 'noize'"),
    Case("config", ASSESS + " --config {kit}/gan_typo.toml", 2, "unknown key attacks.gan.epochz"),
    Case("config", ASSESS + " --config {kit}/limit_float.toml", 2, "limit: expected int, got 1.5"),
    Case("config", ASSESS + " --attacks knn --config {kit}/enabled_typo.toml", 2,
         "unknown attack 'decodr'"),
    Case("config", ASSESS + " --config {kit}/quoted_number.toml", 2,
         "noise: expected a number, got '0.1'"),
    Case("config", ASSESS + " -f json --config {kit}/formats_text.toml", 2,
         "formats: expected a list"),
    Case("config", ASSESS + " --device cpu --config {kit}/device_tpu.toml", 2,
         "device: unknown value 'tpu'"),
    Case("config", ASSESS + " --config {kit}/k_zero.toml", 2, "bound.k: expected a positive"),
    Case("config", ASSESS + " --config {kit}/eval_fraction.toml", 2, "eval_fraction: expected"),
    Case("config", ASSESS + " --fail-over-leakage 1 --config {kit}/nan_threshold.toml", 2,
         "gate.max_leakage: expected a finite threshold"),
    Case("config", ASSESS + " --config {kit}/syntax.toml", 2, "cannot read config"),
    Case("config", ASSESS + " --config {kit}/not_table.toml", 2, "tool.privaudit must be a table"),
    Case("config", ASSESS + " --config {kit}/binary.toml", 2, "not valid UTF-8 TOML"),
    Case("config", ASSESS + " -f xml", 2, "formats: unknown report format 'xml'"),
    Case("config", ASSESS + " -f ''", 2, "formats: expected at least one report format"),
    Case("config", ASSESS + " --fail-under-floor nan", 2, "gate.min_mse_floor: expected a finite"),
    Case("config", HARDEN + " --max-accuracy-drop -5", 2, "harden.max_accuracy_drop"),
    Case("config", HARDEN + " --baseline --baseline-scales -1", 2, "harden.baseline_scales"),
    Case("config", ASSESS.replace("--noise 0.1", "--noise 1e300"), 2, "sigma 1e+300 is above"),
    Case("config", ASSESS + " --noise-sweep 0,1e300", 2, "noise_sweep: sigma 1e+300 is above"),
    Case("config", ASSESS.replace("--noise 0.1", "--noise 1e-200"), 2,
         "noise sigma 1e-200 is negligible"),
    Case("config", ASSESS + " --noise-sweep 0.1,1e-40", 2, "noise sigma 1e-40 is negligible"),
    Case("config", ASSESS + " --std 1e-45", 2, "std must be in"),
    Case("config", ASSESS + " --input-entropy nan", 2, "bound.input_entropy: expected a finite"),
    Case("config", ASSESS + " --limit -3", 2, "limit: expected a positive"),
    Case("config", ASSESS + " --max-data-gb 0", 2, "max_data_gb: expected a positive"),
    Case("config", "attacks -f xml", 2, "unknown --format 'xml'"),
]

REPORTS = [
    Case("report", "report {kit}/surrogate.json -f html,markdown,csv --output-dir {out}", 0,
         "wrote"),
    Case("report", "compare {kit}/surrogate.json {kit}/control.json -f html -o {out}/c.html", 0,
         ""),
    Case("report", "compare {kit}/surrogate.json {kit}/control.json", 0, ""),
    Case("report", "report {kit}/control.json -f markdown --output-dir {out}", 0, "wrote"),
    Case("report", "check {kit}/control.json --fail-over-leakage 0", 1, "gate failed"),
    Case("report", "report {kit}/wrong_schema.json --output-dir {out}", 2,
         "unsupported report schema_version 99"),
    Case("report", "report {kit}/not_json.json --output-dir {out}", 2, "is not a privaudit report"),
    Case("report", "check {kit}/deep.json", 2, "nested too deeply"),
    Case("report", "check {kit}/demo.onnx", 2, "not UTF-8 text"),
    Case("report", "report {kit}/tampered.json --output-dir {out}", 2, "wrong value type"),
    Case("report", "report {kit}/bad_samples.json --output-dir {out}", 2,
         "sample_images: data is not base64"),
    Case("report", "check {kit}/huge_samples.json", 2, "more than 16777216"),
    Case("report", "report {kit}/surrogate.json -f '' --output-dir {out}", 2,
         "expected at least one report format"),
    Case("report", "compare {kit}/surrogate.json {kit}/control.json -f xml", 2,
         "unknown compare format 'xml'"),
    Case("report", "report {kit}/surrogate.json -f junit --output-dir {out}", 0, "wrote"),
    Case("report", "check {kit}/control.json --fail-over-leakage 0 -f junit -o {out}", 1,
         "gate failed"),
    Case("report", "compare {kit}/surrogate.json {kit}/control.json --fail-if-less-private", 0,
         "not less private"),
    Case("report", "compare {kit}/control.json {kit}/deep.json --fail-if-less-private", 2,
         "nested too deeply"),
    Case("report", "hook check {kit}/control.json {kit}/tampered.json", 2, "wrong value type"),
]

NAMES = [
    Case("name", "assess '{kit}/missing\nerror: forged.onnx' --split cut --noise 0.1 "
         "--data {kit}/ok.npz -o {out}", 2, "missing\\nerror: forged.onnx"),
    Case("name", ASSESS.replace("--split cut", "--split 'cut\nerror: forged'"), 2,
         "split 'cut\\nerror: forged' not found"),
    Case("name", ASSESS.replace("--split cut", "--split '\x1b[2J\x1b[31mred'"), 2,
         "\\x1b[2J\\x1b[31mred"),
    Case("name", ASSESS.replace("ok.npz", "images_named"), 2, "bad\\nerror: forged line.png"),
    Case("name", ASSESS.replace("ok.npz", "gone\u202etxt.npz"), 2, "gone\\u202etxt.npz"),
    Case("name", ASSESS.replace("{out}", "'{out}/sub\nerror: forged'"), 0,
         "sub\\nerror: forged"),
    Case("name", ASSESS.replace("net.onnx", "\udcffnet.onnx") + " -f json,html,markdown,csv", 0,
         "\\udcffnet.onnx"),
]

TABLE = "assess {kit}/mlp.onnx --split cut --noise 0.1 --data {kit}/ok.csv " + FAST + " -o {out}"
TABLES = [
    Case("table", TABLE, 0, "accuracy: clean"),
    Case("table", TABLE.replace("ok.csv", "ragged.csv"), 2, "cannot read"),
    Case("table", TABLE.replace("ok.csv", "binary.csv"), 2, "cannot read"),
    Case("table", TABLE.replace("ok.csv", "empty.csv"), 2, "cannot read"),
    Case("table", TABLE.replace("ok.csv", "header_only.csv"), 2, "no samples"),
    Case("table", TABLE.replace("ok.csv", "overflow.csv").replace("--limit 60", ""), 2,
         "the first at row 8, column 'b'"),
    Case("table", TABLE.replace("ok.csv", "forged_column.csv"), 2,
         "feature column 'evil\\nerror: forged \\x1b[2J' is not numeric"),
    Case("table", TABLE.replace("ok.csv", "formula.csv") + " -f csv,html,markdown", 0, "wrote"),
    Case("table", TABLE.replace("ok.csv", "garbage.parquet"), 2, "cannot read"),
    Case("table", TABLE + " --max-data-gb 0.000001", 2, "max_data_gb"),
    Case("table", TABLE + " --domain signal --input-entropy certified", 2,
         "certified needs 8-bit data"),
]

CASES: dict[str, Case] = {
    f"{c.category} {i:02d}: {c.args[:60]}": c
    for i, c in enumerate([*MODELS, *DATA, *CONFIG, *REPORTS, *NAMES, *TABLES])
}

# Cases that need their own processes (see test_corpus.py): name -> what is checked.
SIGNAL_CASES = {
    "sigterm during assess": "exit 143, nothing written, the previous report kept",
    "sigint during assess": "exit 130, nothing written, the previous report kept",
    "sigterm after harden wrote its model": "exit 143, the model removed again",
    "second run into a folder in use": "exit 2 naming the first run's pid; its files intact",
    "lock left by a killed run": "taken over: exit 0",
    "full disk while writing reports": "exit 2, the previous report kept",
}


if __name__ == "__main__":
    built = build(Path(sys.argv[1]))
    print(f"{len(list(os.scandir(built)))} entries in {built}; {len(CASES)} cases")
