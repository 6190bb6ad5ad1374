"""Which cuts a sweep takes: `--splits auto` thins the clean cuts by depth; names resolve once."""

from __future__ import annotations

from pathlib import Path

import pytest

from privaudit import demo
from privaudit.config import load_config
from privaudit.errors import ConfigError, ModelError
from privaudit.model import CutPoint, load_model
from privaudit.sweeping import MAX_AUTO_SPLITS, auto_cuts, resolve_cuts
from privaudit.sweeping.grid import check_grid_size, make_grid, value_copies


def _row(module: str | None, tensor: str, depth: float, clean: bool = True) -> CutPoint:
    return CutPoint(module, tensor, "Relu", (1, 4), depth, clean, None if clean else "crossed")


def test_auto_thins_to_six_spread_by_depth() -> None:
    rows = [_row(f"block{i}", f"t{i}", i / 20) for i in range(1, 20)]
    cuts = auto_cuts(rows)
    assert len(cuts) == MAX_AUTO_SPLITS
    assert [c.name for c in cuts] == ["block1", "block5", "block8", "block12", "block15", "block19"]
    assert [c.depth for c in cuts] == sorted(c.depth for c in cuts)


def test_auto_names_a_tensor_by_its_outermost_module_and_skips_unclean_cuts() -> None:
    rows = [_row("layer1.2", "a", 0.2), _row("layer1", "a", 0.2), _row(None, "b", 0.4),
            _row("layer2", "c", 0.6, clean=False)]  # fmt: skip
    assert [(c.name, c.tensor) for c in auto_cuts(rows)] == [("layer1", "a"), ("b", "b")]


def test_auto_on_the_demo_is_what_layers_lists() -> None:
    model = load_model(demo.demo_model_path())
    cuts, notes = resolve_cuts(model, ["auto"], model_name="demo")
    assert not notes and len(cuts) == MAX_AUTO_SPLITS
    assert "layer3" in [c.name for c in cuts]  # the bottleneck is among them
    assert all(c.depth is not None and 0 < c.depth < 1 for c in cuts)


def test_names_resolve_and_a_second_name_of_one_tensor_is_dropped() -> None:
    model = load_model(demo.demo_model_path())
    cuts, notes = resolve_cuts(model, ["layer1", "layer1.2", "layer3"], model_name="demo")
    assert [c.name for c in cuts] == ["layer1", "layer3"]
    assert "'layer1.2' is the same cut as 'layer1'" in notes[0]
    with pytest.raises(ModelError, match="not found"):
        resolve_cuts(model, ["layer9"], model_name="demo")


def test_grid_sorts_sigmas_and_counts_seeds_from_the_run_seed(tmp_path: Path) -> None:
    cfg = load_config(None, {"sweep.noise": "0.2,0,0.1,0.1", "sweep.seeds": 3, "seed": 5,
                             "attacks.enabled": "knn,decoder"}, search=False)  # fmt: skip
    grid = make_grid(cfg, [])
    assert grid.noise_sigmas == (0.0, 0.1, 0.2)
    assert grid.seeds == (5, 6, 7)
    assert grid.attacks == ("knn", "decoder")


@pytest.mark.parametrize(("flags", "message"), [
    ({"sweep.splits": "auto,layer1"}, "cut names or 'auto'"),
    ({"sweep.noise": "0,-1"}, "sigma >= 0"),
    ({"sweep.seeds": 0}, "sweep.seeds"),
    ({"sweep.jobs": 0}, "sweep.jobs"),
    ({"sweep.threads": 5000}, "sweep.threads: at most 1024"),
    ({"sweep.executor": "dask"}, "unknown executor"),
    ({"sweep.min_accuracy": 1.5}, "share in"),
])  # fmt: skip
def test_bad_sweep_settings_are_config_errors(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, flags, search=False)


def test_auto_leaves_out_a_cut_that_copies_another_and_takes_the_blocks_first() -> None:
    model = load_model(demo.demo_model_path())
    assert value_copies(model) == {"/Flatten_output_0": "/pool/GlobalAveragePool_output_0"}
    cuts, _ = resolve_cuts(model, ["auto"], model_name="demo")
    assert "/Flatten_output_0" not in [c.tensor for c in cuts]  # the pooling's values again
    # every block of the demo, and the cut farthest from them (inside layer3) in the sixth place
    assert [c.name for c in cuts] == ["layer1", "layer2", "layer3.2", "layer3", "layer4", "pool"]


def test_auto_copies_follow_chains_and_keep_a_copy_of_an_unclean_tensor() -> None:
    rows = [_row("a", "t1", 0.2), _row(None, "t2", 0.4), _row(None, "t3", 0.6),
            _row("b", "u1", 0.7, clean=False), _row(None, "u2", 0.8)]  # fmt: skip
    copies = {"t2": "t1", "t3": "t1", "u2": "u1"}
    assert [c.tensor for c in auto_cuts(rows, same_values=copies)] == ["t1", "u2"]


def test_value_copies_follow_a_chain_to_the_tensor_they_copy() -> None:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["s"]),
             helper.make_node("Flatten", ["s"], ["f"]),
             helper.make_node("Sigmoid", ["f"], ["y"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor("shape", TensorProto.INT64, [2], [1, 4])])  # fmt: skip
    assert value_copies(helper.make_model(graph)) == {"s": "r", "f": "r"}


@pytest.mark.parametrize(("flags", "message"), [
    ({"sweep.seeds": 10**11}, "sweep.seeds: at most 1,000 seeds per point, got 100,000,000,000"),
    ({"sweep.noise": ",".join(str(i / 1000) for i in range(1001))},
     "sweep.noise: at most 1,000 sigmas, got 1,001"),
    ({"sweep.seeds": 1000, "sweep.noise": ",".join(str(i) for i in range(30))},
     "6 cuts x 30 sigmas x 5 attacks x 1000 seeds: 900,006 jobs, more than the 100,000"),
])  # fmt: skip
def test_a_grid_too_large_to_be_meant_is_refused_before_any_work(
    flags: dict[str, object], message: str, tmp_path: Path
) -> None:
    from privaudit.sweeping import run_sweep

    cfg = load_config(None, {"model": tmp_path / "absent.onnx", **flags}, search=False)
    with pytest.raises(ConfigError, match=message) as caught:
        run_sweep(cfg)  # NOTE: the model does not exist: nothing was loaded
    assert caught.value.hint and "--output-dir" in caught.value.hint
    check_grid_size(load_config(None, {"sweep.seeds": 1000, "sweep.noise": "0,0.1",
                                       "attacks.enabled": "knn"}, search=False))  # fmt: skip
