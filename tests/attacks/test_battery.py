"""Battery: capability checks, seeding, timing, uniform scoring; runtime helpers."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from privaudit import attacks, runtime
from privaudit.attacks import (
    Attack,
    AttackData,
    AttackParams,
    Capability,
    RunContext,
    Target,
    metrics,
    run_battery,
)
from privaudit.config import Budget
from privaudit.errors import AttackError, ConfigError
from privaudit.progress import NullProgress
from privaudit.results import AttackResult, Status, strongest_attack

BLACK_BOX = frozenset({Capability.QUERY})
WHITE_BOX = frozenset({Capability.QUERY, Capability.GRADIENTS})
SIGMA = 0.1


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Scale(nn.Module):
    """f(x) = 2x - 1 on (1, 8, 8) images."""

    def forward(self, x: Tensor) -> Tensor:
        return 2 * x - 1


def make_target(capabilities: frozenset[Capability] = WHITE_BOX) -> Target:
    enc = Scale()

    def query(x: np.ndarray) -> np.ndarray:
        return 2 * x - 1

    white = Capability.GRADIENTS in capabilities
    return Target((1, 8, 8), (1, 8, 8), SIGMA, query, enc if white else None, capabilities)


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aux_x, aux_y, eval_x): smooth random 8x8 images in [0, 1]."""
    g = np.random.default_rng(0)
    base = g.random((10, 1, 8, 8)).astype(np.float32)
    y = np.arange(250) % 10
    x = np.clip(base[y] + 0.15 * g.standard_normal((250, 1, 8, 8)), 0, 1).astype(np.float32)
    return x[:200], y[:200], x[200:]


def battery(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
    names: list[str],
    *,
    target: Target | None = None,
    tables: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> tuple[AttackResult, ...]:
    aux_x, aux_y, eval_x = images
    return run_battery(
        target or make_target(),
        aux_x,
        aux_y,
        eval_x,
        attacks=names,
        budget=Budget.SMOKE,
        params_tables=tables or {},
        seed=seed,
        device=torch.device("cpu"),
        progress=NullProgress(),
        floor=kwargs.pop("floor", None),
        **kwargs,
    )


# ---------------------------------------------------------------- fakes


class FakeAttack(Attack[AttackParams]):
    """Returns the aux mean image for every target and records what it was given."""

    name: ClassVar[str] = "fake"
    params_type: ClassVar[type[AttackParams]] = AttackParams
    calls: ClassVar[list[tuple[AttackData, RunContext]]] = []

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        FakeAttack.calls.append((data, ctx))
        mean = data.aux_x.mean(dim=0, keepdim=True)
        return mean.expand(len(data.target_z), *target.input_shape).clone()


class WhiteBoxFake(FakeAttack):
    name: ClassVar[str] = "white-fake"
    requires: ClassVar[frozenset[Capability]] = WHITE_BOX


class FailingFake(FakeAttack):
    name: ClassVar[str] = "failing"
    error: ClassVar[Exception] = AttackError("diverged at step 3")

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        raise self.error


class NanFake(FakeAttack):
    name: ClassVar[str] = "nan"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        return torch.full((len(data.target_z), *target.input_shape), float("nan"))


class WrongShapeFake(FakeAttack):
    name: ClassVar[str] = "wrong-shape"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        return torch.zeros(1, 1, 8, 8)


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeAttack.calls.clear()
    for cls in (FakeAttack, WhiteBoxFake, FailingFake, NanFake, WrongShapeFake):
        monkeypatch.setitem(attacks.ATTACKS, cls.name, cls)


# ---------------------------------------------------------------- battery


def test_scoring_is_uniform(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    (res,) = battery(images, ["fake"], n_samples_stored=3)
    aux_x, _, eval_x = images
    x_hat = torch.tensor(aux_x).mean(0, keepdim=True).expand(len(eval_x), 1, 8, 8)
    truth = torch.tensor(eval_x)
    assert res.status is Status.OK and res.n_samples == len(eval_x) and res.seconds >= 0
    for key, fn in (("mse", metrics.mse), ("psnr", metrics.psnr), ("ssim", metrics.ssim)):
        value, interval = getattr(res, key), getattr(res, f"{key}_interval")
        assert value == pytest.approx(float(fn(x_hat, truth).double().mean()), rel=1e-5)
        assert interval.low <= value <= interval.high
    assert res.samples == (0, 1, 2) and len(res.reconstructions) == 3
    assert all(len(r) == 64 for r in res.reconstructions)
    flat = x_hat[0].flatten().tolist()
    assert res.reconstructions[0] == tuple(round(v, 4) for v in flat)
    assert not res.below_floor and res.reason is None


def test_below_floor_flag(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    (low,) = battery(images, ["fake"], floor=1e-6)
    (high,) = battery(images, ["fake"], floor=1.0)
    assert not low.below_floor and high.below_floor


def test_attacks_share_features_and_never_see_eval(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    aux_x, aux_y, eval_x = images
    battery(images, ["fake", "white-fake"], seed=3)
    (d1, c1), (d2, c2) = FakeAttack.calls
    assert torch.equal(d1.aux_z, d2.aux_z) and torch.equal(d1.target_z, d2.target_z)
    assert c1.seed == runtime.derive_seed(3, "fake") != c2.seed
    noise = d1.target_z.numpy() - (2 * eval_x - 1)
    assert noise.std() == pytest.approx(SIGMA, rel=0.1)
    assert torch.equal(d1.aux_x, torch.tensor(aux_x))
    assert d1.aux_y is not None and d1.aux_y.dtype == torch.int64
    assert torch.equal(d1.aux_y, torch.tensor(aux_y))
    for value in vars(d1).values():
        assert value is None or value.shape[0] != len(eval_x) or value is d1.target_z


def test_missing_gradients_skips(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    target = make_target(BLACK_BOX)
    res = battery(images, ["white-fake", "optimization", "fake"], target=target)
    assert [r.status for r in res] == [Status.SKIPPED, Status.SKIPPED, Status.OK]
    assert res[1].reason == "needs gradients; the encoder could not be converted to torch"
    assert res[1].params["steps"] > 0 and res[1].mse is None
    assert len(FakeAttack.calls) == 1  # the skipped attacks never ran
    why = {Capability.GRADIENTS: "the encoder could not be converted to torch: op Foo"}
    (res2,) = battery(images, ["optimization"], target=target, missing_reasons=why)
    assert res2.reason == "needs gradients; the encoder could not be converted to torch: op Foo"


def test_attack_error_becomes_error(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    res = battery(images, ["failing", "nan", "fake"])
    assert [r.status for r in res] == [Status.ERROR, Status.ERROR, Status.OK]
    assert res[0].reason == "diverged at step 3" and res[0].mse is None
    assert res[1].reason is not None and "non-finite" in res[1].reason


@pytest.mark.parametrize("error", [RuntimeError("bug"), ValueError("bug")])
def test_other_exceptions_propagate(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    monkeypatch.setattr(FailingFake, "error", error)
    with pytest.raises(type(error), match="bug"):
        battery(images, ["failing"])
    with pytest.raises(ValueError, match="shape"):
        battery(images, ["wrong-shape"])


def test_config_errors_before_running(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ConfigError, match="unknown attack 'decodr'"):
        battery(images, ["fake", "decodr"])
    with pytest.raises(ConfigError, match="unknown key attacks.decoder.epoch"):
        battery(images, ["fake", "decoder"], tables={"decoder": {"epoch": 3}})
    with pytest.raises(ConfigError, match="decoder.epochs: expected a positive int, got 0"):
        battery(images, ["fake", "decoder"], tables={"decoder": {"epochs": 0}})
    assert FakeAttack.calls == []


TINY = {
    "decoder": {"epochs": 1, "width": 16},
    "optimization": {"steps": 5},
    "gan": {"decoder_epochs": 1, "epochs": 1, "width": 16},
}


def _numbers(r: AttackResult) -> tuple[object, ...]:
    return (r.attack, r.status, r.mse, r.psnr, r.ssim, r.mse_interval, r.reconstructions)


def test_seeded_runs_are_identical(images: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    names = ["knn", "decoder", "optimization", "gan"]
    first = battery(images, names, tables=TINY, seed=7)
    again = battery(images, names, tables=TINY, seed=7)
    assert all(r.status is Status.OK for r in first)
    assert [_numbers(r) for r in first] == [_numbers(r) for r in again]
    other = battery(images, ["decoder"], tables=TINY, seed=8)
    assert other[0].mse != first[1].mse


def test_adding_an_attack_changes_no_other(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    alone = battery(images, ["decoder"], tables=TINY, seed=1)
    with_others = battery(images, ["knn", "gan", "decoder"], tables=TINY, seed=1)
    assert _numbers(alone[0]) == _numbers(with_others[2])


def test_given_clean_features_replace_the_queries(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    aux_x, _, eval_x = images
    queried = battery(images, ["knn", "decoder"], tables=TINY, seed=3)
    flat = (2 * aux_x - 1).reshape(len(aux_x), -1), (2 * eval_x - 1).reshape(len(eval_x), -1)
    given = battery(images, ["knn", "decoder"], tables=TINY, seed=3, clean_features=flat)
    assert [_numbers(r) for r in given] == [_numbers(r) for r in queried]
    shifted = (flat[0], flat[1] + 1.0)  # they are used, not re-queried: the scores move
    assert battery(images, ["knn"], seed=3, clean_features=shifted)[0].mse != queried[0].mse
    with pytest.raises(ValueError, match="do not match"):
        battery(images, ["knn"], clean_features=(flat[0][:-1], flat[1]))


def test_knn_takes_the_callers_nearest_search_which_is_its_own(
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """`assess` hands the `nearest` reference's search to knn instead of searching twice."""
    from privaudit.audit.references import nearest_inputs

    aux_x, _, eval_x = images
    flat = (2 * aux_x - 1).reshape(len(aux_x), -1), (2 * eval_x - 1).reshape(len(eval_x), -1)
    found = nearest_inputs(flat[0], flat[1], [SIGMA], seed=3)[SIGMA]
    own = battery(images, ["knn"], seed=3, clean_features=flat, n_samples_stored=50)
    given = battery(images, ["knn"], seed=3, clean_features=flat, nearest=found,
                    n_samples_stored=50)  # fmt: skip
    assert _numbers(given[0]) == _numbers(own[0])  # the knn attack's own search finds them
    assert given[0].reconstructions == own[0].reconstructions
    assert given[0].mse is not None and given[0].mse > 0
    # the indices are used (others move the score), and only where they are knn's own search
    other = battery(images, ["knn"], seed=3, clean_features=flat, nearest=found[::-1].copy())
    assert other[0].mse != own[0].mse
    k3 = {"knn": {"k": 3}}
    assert _numbers(battery(images, ["knn"], seed=3, tables=k3, clean_features=flat,
                            nearest=found[::-1].copy())[0]) == _numbers(
        battery(images, ["knn"], seed=3, tables=k3, clean_features=flat)[0])  # fmt: skip
    for bad, why in ((found[:-1], "per evaluation sample"), (found + 200, "per evaluation"),
                     (found.astype(np.float32), "per evaluation")):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            battery(images, ["knn"], seed=3, clean_features=flat, nearest=bad)
    with pytest.raises(ValueError, match="clean features"):
        battery(images, ["knn"], seed=3, nearest=found)


def test_strongest() -> None:
    ok = [AttackResult("a", Status.OK, mse=0.03), AttackResult("b", Status.OK, mse=0.01)]
    bad = [AttackResult("c", Status.ERROR, reason="x"), AttackResult("d", Status.SKIPPED)]
    best = strongest_attack([*ok, *bad])
    assert best is not None and best.attack == "b"
    assert strongest_attack(bad) is None and strongest_attack([]) is None


# ---------------------------------------------------------------- runtime


def test_derive_seed_is_stable() -> None:
    assert runtime.derive_seed(0, "decoder") == runtime.derive_seed(0, "decoder")
    assert runtime.derive_seed(0, "decoder") == 796748560  # crc32("0:decoder") & 0x7fffffff
    seeds = {runtime.derive_seed(s, n) for s in (0, 1) for n in ("knn", "decoder", "gan")}
    assert len(seeds) == 6 and all(0 <= s < 2**31 for s in seeds)


def test_seed_everything() -> None:
    g1 = runtime.seed_everything(5)
    a, n1 = torch.rand(3), g1.random()
    g2 = runtime.seed_everything(5)
    assert torch.equal(a, torch.rand(3)) and n1 == g2.random()


def test_devices() -> None:
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not runtime.use_amp(torch.device("cpu"))
    assert runtime.use_amp(torch.device("cuda"))
    with pytest.raises(ConfigError, match="expected one of auto, cpu, cuda, got 'tpu'"):
        runtime.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            runtime.resolve_device("cuda")
