"""A channels-last model, (N, H, W, C) images or (N, T, C) signals, audited on its real pixels.

Read as (N, C, H, W), a (N, 28, 28, 1) input would be 28 channels of 28 x 1 pixels: every
image metric (SSIM, the decoders' convolutions, per-channel normalization) would be computed
on the wrong pixels, and exit 0. privaudit feeds such a model through a Transpose instead
(`channels_first_view`): its audit must equal the audit of the same weights exported with a
channels-first input, and `harden` must write a model that still takes channels last.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.model import channels_first_view, channels_last_view, looks_channels_last

runner = CliRunner()
N = 60


class Body(nn.Module):
    """The shared weights: a conv layer (the cut) and a linear head on 8 x 8 grey images."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.layer1(x), 1))


class ChannelsLast(nn.Module):
    """Takes (N, H, W, 1) images and permutes them to NCHW inside the graph (as Keras does)."""

    def __init__(self, body: Body) -> None:
        super().__init__()
        self.layer1, self.fc = body.layer1, body.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.layer1(x.permute(0, 3, 1, 2)), 1))


class SignalLast(nn.Module):
    """Takes (N, T, 2) signals, channels last, with a Conv1d encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(2, 3, 5, padding=2), nn.Tanh())
        self.fc = nn.Linear(3 * 16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.encoder(x.transpose(1, 2)), 1))


class SignalFirst(nn.Module):
    def __init__(self, twin: SignalLast) -> None:
        super().__init__()
        self.encoder, self.fc = twin.encoder, twin.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.encoder(x), 1))


def _export(module: nn.Module, example: torch.Tensor, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same trained-ish weights exported channels last and channels first, and data."""
    root = tmp_path_factory.mktemp("channels")
    torch.manual_seed(0)
    body = Body()
    rng = np.random.default_rng(0)
    y = np.arange(N) % 3
    # NOTE: images a class apart, so that the model's accuracy and the references mean something
    x = np.clip(rng.random((N, 8, 8, 1)) * 0.5 + y[:, None, None, None] * 0.25, 0, 1)
    x = (np.round(x * 255) / 255).astype(np.float32)
    np.savez(root / "nhwc.npz", x=x, y=y)
    np.savez(root / "nchw.npz", x=x.transpose(0, 3, 1, 2), y=y)
    sig = np.random.default_rng(1).normal(size=(N, 16, 2)).astype(np.float32)
    np.savez(root / "sig_last.npz", x=sig, y=y)
    np.savez(root / "sig_first.npz", x=sig.transpose(0, 2, 1), y=y)
    torch.manual_seed(1)
    signal = SignalLast()
    return {
        "last": _export(ChannelsLast(body), torch.rand(2, 8, 8, 1), root / "nhwc.onnx"),
        "first": _export(body, torch.rand(2, 1, 8, 8), root / "nchw.onnx"),
        "sig_last": _export(signal, torch.rand(2, 16, 2), root / "sig_last.onnx"),
        "sig_first": _export(SignalFirst(signal), torch.rand(2, 2, 16), root / "sig_first.onnx"),
        "root": root,
    }


@pytest.mark.parametrize("shape", [("N", 28, 28, 1), ("N", 32, 32, 3), (1, 224, 224, 4),
                                   ("N", "h", "w", 3), ("N", None, None, 1)])  # fmt: skip
def test_a_channels_last_image_input_is_recognised(shape: tuple[object, ...]) -> None:
    dims = tuple(d if isinstance(d, int) else None for d in shape)
    assert looks_channels_last(dims)


@pytest.mark.parametrize("shape", [(None, 1, 28, 28), (None, 3, 32, 32), (None, 4, 8, 3),
                                   (None, 3, None, None), (None, None, 28, 1), (None, 1, 1, 1),
                                   (None, 16, 2), (None, None, None, None)])  # fmt: skip
def test_channels_first_undecidable_and_signal_inputs_are_left_alone(
    shape: tuple[int | None, ...],
) -> None:
    assert not looks_channels_last(shape)


def _check_view(model: onnx.ModelProto, view: onnx.ModelProto) -> None:
    """`view` on (N, 1, 8, 8) computes what `model` computes on (N, 8, 8, 1), and undoes."""
    x = np.random.default_rng(2).random((5, 8, 8, 1)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"input": x})[0]
    got = ort.InferenceSession(view.SerializeToString()).run(
        None, {"input": x.transpose(0, 3, 1, 2)})[0]
    np.testing.assert_array_equal(got, want)
    assert channels_last_view(view).SerializeToString() == model.SerializeToString()


def test_the_view_computes_what_the_model_computes_and_undoes_exactly(
    twins: dict[str, Path],
) -> None:
    model = onnx.load(str(twins["last"]))
    view = channels_first_view(model)
    assert [d.dim_value for d in view.graph.input[0].type.tensor_type.shape.dim][1:] == [1, 8, 8]
    onnx.checker.check_model(view)
    _check_view(model, view)
    assert channels_first_view(model, "channels-first") is model
    first = onnx.load(str(twins["first"]))
    assert channels_first_view(first) is first and channels_last_view(first) is first


def _assess(model: Path, data: Path, out: Path, *extra: str) -> dict:
    split = [] if "--split" in extra or "hardened" in model.name else [
        "--split", "layer1" if "sig" not in model.name else "encoder"]
    result = runner.invoke(app, ["assess", str(model), *split, "--data", str(data), "--noise",
                                 "0.1", "--attacks", "knn", "--budget", "smoke", "-q", "-o",
                                 str(out), *extra])  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return json.loads((out / "report.json").read_text())


def _numbers(report: dict) -> list[float]:
    """The floor, the paper's floor, the leakage, every reference and attack, the accuracies."""
    bound = report["bound"]
    refs = [r["mse"] for r in sorted(report["references"], key=lambda r: r["name"])]
    attacks = [a["mse"] for a in sorted(report["attacks"], key=lambda a: a["attack"])]
    return [bound["mse_floor"], bound["paper_floor"], bound["leakage_nats"], *refs, *attacks,
            report["utility"]["clean_accuracy"], report["utility"]["noisy_accuracy"]]


@pytest.mark.parametrize("data", ["nhwc.npz", "nchw.npz"])
def test_a_channels_last_model_is_audited_as_its_channels_first_twin(
    twins: dict[str, Path], tmp_path: Path, data: str
) -> None:
    root = twins["root"]
    last = _assess(twins["last"], root / data, tmp_path / "last")
    first = _assess(twins["first"], root / "nchw.npz", tmp_path / "first")
    assert any("channels-last input 'input' (N, H, W, C) through a Transpose" in t
               for t in last["data"]["transforms"])  # fmt: skip
    got, want = _numbers(last), _numbers(first)
    assert got[0] is not None and got[0] == pytest.approx(want[0], rel=1e-5)  # the floor
    assert got[1:] == pytest.approx(want[1:], rel=1e-4, abs=1e-7)


def test_a_channels_last_signal_model_needs_the_flag_and_then_equals_its_twin(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    root = twins["root"]
    # NOTE: (N, 16, 2) cannot be told from 16 channels of 2 steps: without the flag the data
    # laid (N, T, C) is read as the model reads it, and nothing is transposed
    plain = _assess(twins["sig_last"], root / "sig_last.npz", tmp_path / "plain")
    assert not any("Transpose" in t for t in plain["data"]["transforms"])
    # ... but the model transposes it first: a warning says it may be (N, T, C)
    assert any("transposes its signal input (N, 16, 2) first" in w and "16 channels of 2 time "
               "steps" in w and "--layout channels-last" in w for w in plain["warnings"])
    first = _assess(twins["sig_first"], root / "sig_first.npz", tmp_path / "first")
    # the model's own layout (N, T, C) is transposed, never reshaped (which mixes channels
    # and steps: a tester's floor read 0.00528 for 0.00846); (N, C, T) is taken as it is;
    # flat rows are read in the model's own order
    sig = np.load(root / "sig_last.npz")
    np.savez(tmp_path / "flat.npz", x=sig["x"].reshape(len(sig["x"]), -1), y=sig["y"])
    for data in (root / "sig_last.npz", root / "sig_first.npz", tmp_path / "flat.npz"):
        last = _assess(twins["sig_last"], data, tmp_path / data.stem, "--layout",
                       "channels-last")
        assert any("(N, T, C) through a Transpose" in t for t in last["data"]["transforms"])
        assert not any("transposes its signal input" in w for w in last["warnings"])
        assert _numbers(last) == pytest.approx(_numbers(first), rel=1e-4, abs=1e-7), data.name
        next_step = last["verdict"]["command"]
        assert "--layout channels-last" in next_step, next_step


def test_a_channels_last_pre_split_encoder_is_fed_through_the_transpose(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    from privaudit.model import split_model

    split = split_model(onnx.load(str(twins["last"])), "layer1")
    encoder = tmp_path / "encoder.onnx"
    onnx.save(split.encoder, str(encoder))
    result = runner.invoke(app, ["assess", "--encoder", str(encoder), "--data",
                                 str(twins["root"] / "nhwc.npz"), "--noise", "0.1",
                                 "--no-attacks", "-q", "-o", str(tmp_path / "pre")])  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    report = json.loads((tmp_path / "pre" / "report.json").read_text())
    first = _assess(twins["first"], twins["root"] / "nchw.npz", tmp_path / "first")
    assert report["bound"]["mse_floor"] == pytest.approx(first["bound"]["mse_floor"], rel=1e-5)


def test_forcing_channels_first_reads_the_axes_as_given(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    report = _assess(twins["last"], twins["root"] / "nhwc.npz", tmp_path / "forced",
                     "--layout", "channels-first")
    assert not any("Transpose" in t for t in report["data"]["transforms"])
    assert report["model"]["input_shape"] == [8, 8, 1]  # 8 channels of 8 x 1 pixels, as asked


@pytest.mark.parametrize(("flags", "message"), [
    (["--layout", "channels-middle"], "layout: unknown value 'channels-middle'"),
    (["--domain", "tabular", "--layout", "channels-last"],
     "layout channels-last with domain tabular"),
])  # fmt: skip
def test_bad_layouts_are_one_line_errors(
    twins: dict[str, Path], tmp_path: Path, flags: list[str], message: str
) -> None:
    result = runner.invoke(app, ["assess", str(twins["first"]), "--split", "layer1", "--data",
                                 str(twins["root"] / "nchw.npz"), "--noise", "0.1",
                                 "--no-attacks", "-o", str(tmp_path), *flags])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_tabular_audit_of_a_channels_last_model_reads_values_in_its_own_order(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    """`--domain tabular` reads every input value as a feature, in the model's own order: a
    Transpose there fed flattened (H, W, C) rows to a (C, H, W) input (a tester's floor moved
    from 0.03144 to 0.03217)."""
    root = twins["root"]
    x = np.load(root / "nhwc.npz")
    np.savez(tmp_path / "last.npz", x=x["x"].reshape(N, -1), y=x["y"])
    np.savez(tmp_path / "first.npz", x=x["x"].transpose(0, 3, 1, 2).reshape(N, -1), y=x["y"])
    last = _assess(twins["last"], tmp_path / "last.npz", tmp_path / "l", "--domain", "tabular")
    first = _assess(twins["first"], tmp_path / "first.npz", tmp_path / "f", "--domain",
                    "tabular")
    assert not any("Transpose" in t for t in last["data"]["transforms"])
    # NOTE: the features are the same values in another order: the same audit
    assert _numbers(last) == pytest.approx(_numbers(first), rel=1e-4, abs=1e-7)


class GlobalPool(nn.Module):
    """Takes (N, H, W, 3) images of any size: a conv, then a global average (as Keras)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer1(x.permute(0, 3, 1, 2)).mean(dim=(2, 3)))


def _pooled(root: Path, dynamic: dict[int, str]) -> Path:
    """`GlobalPool` exported with the input axes `dynamic`, and (N, 8, 8, 3) data in d.npz."""
    torch.manual_seed(0)
    path = root / "pooled.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(GlobalPool().eval(), (torch.rand(2, 8, 8, 3),), str(path),
                          dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": dynamic, "logits": {0: "b"}})
    x = np.random.default_rng(0).random((N, 8, 8, 3)).astype(np.float32)
    np.savez(root / "d.npz", x=x, y=np.arange(N) % 2)
    return path


def test_a_dynamic_size_channels_last_model_is_recognised_and_takes_its_own_input_shape(
    tmp_path: Path,
) -> None:
    """(N, ?, ?, 3) was read as ? channels of ? x 3 pixels, and --input-shape 8,8,3 (the model's
    own order) as 8 channels of 8 x 3 pixels: the decoder's MSE read 54% high."""
    path = _pooled(tmp_path, {0: "b", 1: "h", 2: "w"})
    reports = [_assess(path, tmp_path / "d.npz", tmp_path / str(i), "--split", "layer1", *extra)
               for i, extra in enumerate(([], ["--input-shape", "8,8,3"],
                                          ["--layout", "channels-last"]))]  # fmt: skip
    for report in reports:
        assert report["model"]["input_shape"] == [3, 8, 8]
        assert any("through a Transpose" in t for t in report["data"]["transforms"])
    assert _numbers(reports[1]) == pytest.approx(_numbers(reports[0]), rel=1e-6)


def test_channels_last_on_a_tabular_input_is_refused(tmp_path: Path) -> None:
    path = _export(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)),
                   torch.rand(2, 6), tmp_path / "mlp.onnx")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", x=rng.normal(size=(40, 6)).astype(np.float32),
             y=np.arange(40) % 2)
    result = runner.invoke(app, ["assess", str(path), "--split", "1", "--data",
                                 str(tmp_path / "t.npz"), "--noise", "0.1", "--no-attacks",
                                 "--layout", "channels-last", "-o",
                                 str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "layout channels-last" in result.stderr and "rank 2" in result.stderr


def test_harden_writes_a_model_that_still_takes_channels_last(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "hardened.onnx"
    result = runner.invoke(app, ["harden", str(twins["last"]), "--split", "layer1", "--data",
                                 str(twins["root"] / "nhwc.npz"), "--noise", "0.1", "--epochs",
                                 "2", "--attacks", "knn", "--budget", "smoke", "-q",
                                 "--output", str(out), "--output-dir", str(tmp_path / "r")])
    assert result.exit_code in (0, 1), result.output
    written = onnx.load(str(out))
    assert not any(n.name.startswith("privaudit_channels") for n in written.graph.node)
    dims = [d.dim_value for d in written.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [8, 8, 1]
    x = np.load(twins["root"] / "nhwc.npz")["x"][:4]
    logits = ort.InferenceSession(str(out)).run(None, {"input": x})[0]
    assert logits.shape == (4, 3) and np.isfinite(logits).all()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    reread = _assess(out, twins["root"] / "nhwc.npz", tmp_path / "again")
    after = report["harden"]["after"]
    assert reread["model"]["sha256"] == after["model"]["sha256"]
    meta = {p.key: p.value for p in written.metadata_props}
    assert meta["privaudit.layout"] == "channels-last"


def test_a_hardened_channels_last_signal_model_is_audited_as_hardened_without_the_flag(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    """Its layout (given by hand, signals cannot be told) is recorded in the written model:
    reassessed without --layout, a tester's floor read 9.4 times too high."""
    out = tmp_path / "hardened.onnx"
    data = twins["root"] / "sig_last.npz"
    result = runner.invoke(app, ["harden", str(twins["sig_last"]), "--split", "encoder",
                                 "--data", str(data), "--noise", "0.1", "--epochs", "2",
                                 "--attacks", "knn", "--budget", "smoke", "-q", "--layout",
                                 "channels-last", "--output", str(out), "--output-dir",
                                 str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    after = json.loads((tmp_path / "r" / "report.json").read_text())["harden"]["after"]
    reread = _assess(out, data, tmp_path / "again")
    assert _numbers(reread) == pytest.approx(_numbers(after), rel=1e-4, abs=1e-7)


def test_a_sweep_of_a_channels_last_model_cuts_where_its_twin_cuts(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    """`--splits auto` took the model's own permute of its input as a cut (one that sends the
    input itself), and the recommended command dropped a --layout given by hand."""
    def sweep(model: Path, data: Path, out: str, *extra: str) -> dict:
        result = runner.invoke(app, ["sweep", str(model), "--data", str(data), "--splits",
                                     "auto", "--noise", "0.1", "--attacks", "knn", "-q",
                                     "--min-accuracy", "0", "--max-recovered", "1", "-o",
                                     str(tmp_path / out), *extra])  # fmt: skip
        assert result.exit_code in (0, 1), result.output
        return json.loads((tmp_path / out / "sweep.json").read_text())

    root = twins["root"]
    last, first = (sweep(twins[m], root / "nchw.npz", m) for m in ("last", "first"))
    assert [c["name"] for c in last["cuts"]] == [c["name"] for c in first["cuts"]]
    floors = [[p["bound"]["mse_floor"] for p in d["points"]] for d in (last, first)]
    assert floors[0] == pytest.approx(floors[1], rel=1e-5)
    signal = sweep(twins["sig_last"], root / "sig_last.npz", "sig", "--layout", "channels-last")
    assert "--layout channels-last" in signal["recommendation"]["command"]


def test_the_console_says_the_model_was_fed_through_a_transpose(
    twins: dict[str, Path], tmp_path: Path
) -> None:
    base = ["assess", "--split", "layer1", "--data", str(twins["root"] / "nhwc.npz"),
            "--noise", "0.1", "--no-attacks"]
    last = runner.invoke(app, [*base, str(twins["last"]), "-o", str(tmp_path / "l")])
    assert ("input: 'input' keeps its channels last; fed through a Transpose, audited as "
            "(N, 1, 8, 8)") in last.stderr
    first = runner.invoke(app, [*base, str(twins["first"]), "-o", str(tmp_path / "f")])
    assert "through a Transpose" not in first.stderr


def test_the_view_reaches_the_input_inside_control_flow_bodies() -> None:
    """An If body that reads the input from the outer scope reads the transposed input too."""
    from onnx import TensorProto, helper

    then = helper.make_graph([helper.make_node("Identity", ["input"], ["a"])], "then", [],
                             [helper.make_tensor_value_info("a", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["input"], ["b"])], "else", [],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Constant", [], ["cond"], value=helper.make_tensor(
                 "c", TensorProto.BOOL, [], [True])),
             helper.make_node("If", ["cond"], ["picked"], then_branch=then, else_branch=other),
             helper.make_node("Transpose", ["picked"], ["out"], perm=[0, 3, 1, 2])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 8, 8, 1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _check_view(model, channels_first_view(model))


def test_a_model_with_no_fixed_size_that_fails_names_the_layout_flag(tmp_path: Path) -> None:
    """(N, ?, ?, ?) cannot be told channels-last; onnxruntime's failure said only "re-export"."""
    path = _pooled(tmp_path, {0: "b", 1: "h", 2: "w", 3: "c"})
    args = ["assess", str(path), "--split", "layer1", "--data", str(tmp_path / "d.npz"),
            "--noise", "0.1", "--no-attacks", "-q"]
    failed = runner.invoke(app, [*args, "-o", str(tmp_path / "a")])
    assert failed.exit_code == 2, failed.output
    assert "--layout channels-last" in failed.stderr and "Traceback" not in failed.stderr
    fixed = runner.invoke(app, [*args, "--layout", "channels-last", "-o", str(tmp_path / "b")])
    assert fixed.exit_code in (0, 1), fixed.output
