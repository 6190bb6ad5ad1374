"""Decoder training throughput vs a plain torch loop, and `assess` wall time per budget.

    python -m benchmarks.attacks [--device cpu|cuda] [--budgets smoke,standard] [--quick]

Goals: decoder overhead <= +10 % vs the plain loop on the same network and tensors;
`privaudit assess` on the demo within 20 s at the smoke budget and 120 s at the standard
budget on 2 CPU cores. Both loops are timed alternately in this run, after one untimed
warm-up each (best of 3; of 5 on CUDA), on the demo encoder's features.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import Goal, Result, Table, main_of
from privaudit import demo
from privaudit.attacks import AttackData, Capability, RunContext, Target
from privaudit.attacks.decoder import DecoderParams, train_decoder
from privaudit.attacks.nets import Decoder
from privaudit.data import Normalization
from privaudit.model import load_model, make_session, run_batched, split_model
from privaudit.progress import NullProgress

TITLE = "decoder training throughput vs a plain torch loop, and `assess` wall time"
SIGMA = 0.1
GOAL_OVERHEAD = 10.0  # percent
GOAL_WALL = {"smoke": 20.0, "standard": 120.0}  # seconds, on 2 CPU cores
FULL: dict[str, Any] = {"samples": 1600, "epochs": 3, "repeats": 0, "limit": 0, "attacks": ""}
QUICK: dict[str, Any] = {"samples": 400, "epochs": 1, "repeats": 1, "limit": 200,
                         "attacks": "knn"}


def parser() -> argparse.ArgumentParser:
    """The options (device, sizes) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budgets", default="smoke,standard", help="assess budgets to time")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--samples", type=int, default=FULL["samples"], help="decoder training set")
    ap.add_argument("--epochs", type=int, default=FULL["epochs"], help="decoder epochs")
    ap.add_argument("--repeats", type=int, default=FULL["repeats"],
                    help="best of N (0: 3 on the CPU, 5 on CUDA)")
    ap.add_argument("--limit", type=int, default=FULL["limit"], help="assess --limit (0: all)")
    ap.add_argument("--attacks", default=FULL["attacks"], help="assess --attacks ('': all)")
    return ap


def demo_target(samples: int) -> tuple[Target, AttackData]:
    """The demo encoder as a query-only target, and `samples` auxiliary images with features."""
    split = split_model(load_model(demo.demo_model_path()), "layer3")
    session = make_session(split.encoder)
    norm = Normalization(mean=(0.1307,), std=(0.3081,))
    x = np.load(demo.demo_data_path())["x"][:samples, None].astype(np.float32) / 255.0

    def query(images: np.ndarray) -> np.ndarray:
        return run_batched(session, norm.apply(images), 256)

    z = query(x)
    target = Target(
        (1, 28, 28), tuple(z.shape[1:]), SIGMA, query, None, frozenset({Capability.QUERY})
    )
    noisy = torch.from_numpy(z) + SIGMA * torch.randn(z.shape)
    return target, AttackData(torch.from_numpy(x), noisy, noisy[:10])


def ours(target: Target, data: AttackData, params: DecoderParams, device: torch.device) -> float:
    """Samples per second of privaudit's decoder training."""
    ctx = RunContext(device, 0, NullProgress(), mixed_precision=False)
    torch.manual_seed(0)
    start = time.perf_counter()
    with NullProgress().task("decoder") as task:
        train_decoder(target, data, params, ctx, task)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return float(params.epochs * len(data.aux_x) / (time.perf_counter() - start))


def plain(target: Target, data: AttackData, params: DecoderParams, device: torch.device) -> float:
    """The same network, optimizer, schedule and fresh noise per epoch, written by hand."""
    torch.manual_seed(0)
    start = time.perf_counter()
    clean = torch.from_numpy(target.query(data.aux_x.numpy())).to(device)
    x = data.aux_x.to(device)
    n, b, epochs = len(x), params.batch_size, params.epochs
    net = Decoder(target.feature_shape, target.input_shape, params.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-n // b))
    net.train()
    for _ in range(epochs):
        z = clean + SIGMA * torch.randn(clean.shape, device=device)
        for idx in torch.randperm(n, device=device).split(b):
            loss = F.mse_loss(net(z[idx]), x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return float(epochs * n / (time.perf_counter() - start))


def throughput(args: argparse.Namespace, device: torch.device) -> tuple[Table, Goal]:
    """Both loops, alternately, after a warm-up each: the table and the overhead goal."""
    target, data = demo_target(args.samples)
    params = DecoderParams(epochs=args.epochs)
    runs: dict[str, list[float]] = {"privaudit": [], "plain loop": []}
    ours(target, data, params, device)  # NOTE: untimed warm-up (CUDA context, kernels, caches)
    plain(target, data, params, device)
    repeats = args.repeats or (5 if device.type == "cuda" else 3)  # short GPU runs: noisier
    for _ in range(repeats):
        runs["privaudit"].append(ours(target, data, params, device))
        runs["plain loop"].append(plain(target, data, params, device))
    best = {k: max(v) for k, v in runs.items()}
    table = Table(
        f"decoder training on {device} ({torch.get_num_threads()} threads), batch "
        f"{params.batch_size}, {len(data.aux_x)} samples x {args.epochs} epochs, best of "
        f"{repeats} after a warm-up",
        ("loop", "samples/s", "every repeat"),
        tuple((k, f"{v:.0f}", ", ".join(f"{s:.0f}" for s in runs[k])) for k, v in best.items()),
    )
    overhead = 100 * (best["plain loop"] / best["privaudit"] - 1)
    goal = Goal(f"decoder training overhead vs the plain loop ({device})", overhead, "<=",
                GOAL_OVERHEAD, " %", "+.1f")
    return table, goal


def wall_times(args: argparse.Namespace, budgets: list[str]) -> tuple[Table, tuple[Goal, ...]]:
    """`privaudit assess` on the demo per budget, wall time of the whole command."""
    rows, goals = [], []
    extra = ["--limit", str(args.limit)] if args.limit else []
    extra += ["--attacks", args.attacks] if args.attacks else []
    for budget in budgets:
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "privaudit", "assess", "--budget", budget, "-q",
                   "--device", args.device, "-o", out, *extra]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            seconds = time.perf_counter() - start
        shown = " ".join(["privaudit assess", "--budget", budget, "--device", args.device,
                          *extra])
        rows.append((f"`{shown}`", f"{seconds:.1f}"))
        if budget in GOAL_WALL:
            goals.append(Goal(f"`privaudit assess` on the demo, budget {budget}, wall time",
                              seconds, "<=", GOAL_WALL[budget], " s", ".1f"))
    return Table("`privaudit assess` on the demo (a fresh process each)", ("command", "wall (s)"),
                 tuple(rows)), tuple(goals)


def run(args: argparse.Namespace) -> Result:
    """Throughput of both loops, then the assess wall times."""
    torch.set_num_threads(args.threads)
    table, overhead = throughput(args, torch.device(args.device))
    walls, goals = wall_times(args, [b for b in args.budgets.split(",") if b])
    settings = (f"demo encoder cut at layer3, sigma {SIGMA}, {args.device}, "
                f"{args.threads} torch threads")
    if args.limit or args.attacks:
        settings += f", assess with --limit {args.limit} --attacks {args.attacks or 'all'}"
    return Result("attacks", TITLE, settings, (table, walls), (overhead, *goals),
                  quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
