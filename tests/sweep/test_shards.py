"""Shards: one file per finished job, keyed by all its numbers depend on, written atomically."""

from __future__ import annotations

from pathlib import Path

from privaudit.config import load_config
from privaudit.sweeping.shards import ShardStore, settings_digest


def _store(folder: Path, fresh: bool = False, budget: str = "smoke") -> ShardStore:
    return ShardStore.create(folder, model="m" * 64, data="d" * 64, budget=budget,
                             settings="s" * 16, fresh=fresh)  # fmt: skip


def test_save_then_load(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = store.key("attack", cut="/layer3/Sig:0", noise_sigma=0.1, attack="knn", seed=0)
    assert store.load(key) is None
    store.save(key, {"mse": 0.5})
    path = store.path(key)
    assert path.parent == tmp_path and path.name.startswith("attack--cut_layer3_Sig_0--")
    assert store.load(key) == {"mse": 0.5}
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temp file left


def test_a_different_key_finds_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = store.key("attack", cut="layer3", noise_sigma=0.1, attack="knn", seed=0)
    store.save(key, 1)
    assert store.load(store.key("attack", cut="layer3", noise_sigma=0.1, attack="knn",
                                seed=1)) is None  # fmt: skip
    other = _store(tmp_path, budget="standard")
    assert other.load(other.key("attack", cut="layer3", noise_sigma=0.1, attack="knn",
                                seed=0)) is None  # fmt: skip
    assert _store(tmp_path, fresh=True).load(key) is None


def test_unreadable_or_foreign_shards_are_ignored(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = store.key("point", cut="layer3", noise_sigma=0.0, seed=0)
    store.path(key).write_text("{ not json")
    assert store.load(key) is None
    # NOTE: said in the sweep's warnings (it printed as a '07:44:21 WARNING' log line)
    assert len(store.ignored) == 1 and "its job ran again" in store.ignored[0]
    assert "unreadable" in store.ignored[0]
    store.path(key).write_text('{"shard_version": 1, "key": {"kind": "other"}, "value": 3}')
    assert store.load(key) is None


def test_settings_that_change_numbers_change_the_digest() -> None:
    base = load_config(None, {}, search=False)
    norm = ((0.0,), (1.0,))
    digest = settings_digest(base, norm)
    assert digest == settings_digest(load_config(None, {"sweep.jobs": 3}, search=False), norm)
    for flags in ({"seed": 1}, {"bound.covariance": "full"}, {"limit": 100}):
        assert settings_digest(load_config(None, flags, search=False), norm) != digest
    assert settings_digest(base, ((0.5,), (1.0,))) != digest


def test_a_shard_with_a_value_privaudit_never_writes_is_not_reused(tmp_path: Path) -> None:
    """A tester's shards: a NaN accuracy was reused (`nan%`, starred as Pareto), and an attack
    with status ok and no MSE was reused silently."""
    import json

    from privaudit.results import AttackResult, Status
    from privaudit.sweeping.schedule import load_result

    store = _store(tmp_path)
    key = store.key("attack", cut="layer3", noise_sigma=0.1, attack="knn", seed=0)
    store.save(key, AttackResult("knn", Status.OK, mse=0.05, recovered=0.2))
    assert load_result(store, key, AttackResult).mse == 0.05
    doc = json.loads(store.path(key).read_text())
    for value in ({"mse": None}, {"mse": -0.1}, {"recovered": "NaN"}):
        tampered = dict(doc, value=dict(doc["value"], **value))
        text = json.dumps(tampered).replace('"NaN"', "NaN")
        store.path(key).write_text(text)
        assert load_result(store, key, AttackResult) is None, value
    assert len(store.ignored) == 3


def test_fresh_clears_the_shards_and_killed_runs_scratch_is_removed(tmp_path: Path) -> None:
    """A tester's interrupted `--fresh` run left the old shards, which a later run without
    `--fresh` reused; and a killed `--jobs 2` run left its `.scratch-*` features for good."""
    import os
    import subprocess
    import sys

    from privaudit.sweeping.run import scratch_folder

    store = _store(tmp_path)
    key = store.key("attack", cut="layer3", noise_sigma=0.1, attack="knn", seed=0)
    store.save(key, 1)
    (tmp_path / "notes.json").write_text("{}")  # not a shard: kept
    assert store.clear() == 1 and store.load(key) is None
    assert (tmp_path / "notes.json").exists()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dead = tmp_path / f".scratch-{gone}-abc"
    old = tmp_path / ".scratch-umy33y14"  # named before the process was in the name
    live = tmp_path / f".scratch-{os.getppid()}-def"
    for folder in (dead, old, live):
        folder.mkdir()
        (folder / "features.npy").write_bytes(b"x")
    with scratch_folder(tmp_path) as mine:
        assert mine.name.startswith(f".scratch-{os.getpid()}-")
        assert not dead.exists() and not old.exists() and live.exists()
    assert not mine.exists()


def test_the_digest_holds_the_device_as_resolved() -> None:
    """`device = "auto"` was keyed as "auto": a CPU run's shards would be reused on CUDA."""
    auto = load_config(None, {"device": "auto"}, search=False)
    cpu = load_config(None, {"device": "cpu"}, search=False)
    norm = ((0.0,), (1.0,))
    import torch

    same = not torch.cuda.is_available()  # NOTE: auto is the CPU here, CUDA on a GPU machine
    assert (settings_digest(auto, norm) == settings_digest(cpu, norm)) is same
