"""Decoder training throughput vs a plain torch loop, and `assess` wall time per budget.

Run: python benchmarks/attacks.py [--device cpu|cuda] [--budgets smoke,standard]
Goals (issue): decoder overhead <= 10% vs the plain loop on the same network and tensors;
`privaudit demo` at the standard budget within 2 minutes on 2 CPU cores, smoke within 20 s.
Both loops are timed alternately in this run, after one untimed warm-up each (best of 3;
of 5 on CUDA), on the demo encoder's features.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# NOTE: this file is named like the `attacks` package; when run as a script its folder is
# sys.path[0] and would shadow the package, so drop it before importing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from privaudit import demo  # noqa: E402
from privaudit.attacks import AttackData, Capability, RunContext, Target  # noqa: E402
from privaudit.attacks.decoder import DecoderParams, train_decoder  # noqa: E402
from privaudit.attacks.nets import Decoder  # noqa: E402
from privaudit.data import Normalization  # noqa: E402
from privaudit.model import load_model, make_session, run_batched, split_model  # noqa: E402
from privaudit.progress import NullProgress  # noqa: E402

SIGMA, EPOCHS = 0.1, 3


def demo_target() -> tuple[Target, AttackData]:
    split = split_model(load_model(demo.demo_model_path()), "layer3")
    session = make_session(split.encoder)
    norm = Normalization(mean=(0.1307,), std=(0.3081,))
    x = np.load(demo.demo_data_path())["x"][:1600, None].astype(np.float32) / 255.0

    def query(images: np.ndarray) -> np.ndarray:
        return run_batched(session, norm.apply(images), 256)

    z = query(x)
    target = Target(
        (1, 28, 28), tuple(z.shape[1:]), SIGMA, query, None, frozenset({Capability.QUERY})
    )
    noisy = torch.from_numpy(z) + SIGMA * torch.randn(z.shape)
    return target, AttackData(torch.from_numpy(x), noisy, noisy[:10])


def ours(target: Target, data: AttackData, params: DecoderParams, device: torch.device) -> float:
    ctx = RunContext(device, 0, NullProgress(), mixed_precision=False)
    torch.manual_seed(0)
    start = time.perf_counter()
    with NullProgress().task("decoder") as task:
        train_decoder(target, data, params, ctx, task)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return EPOCHS * len(data.aux_x) / (time.perf_counter() - start)


def plain(target: Target, data: AttackData, params: DecoderParams, device: torch.device) -> float:
    """The same network, optimizer, schedule and fresh noise per epoch, written by hand."""
    torch.manual_seed(0)
    start = time.perf_counter()
    clean = torch.from_numpy(target.query(data.aux_x.numpy())).to(device)
    x = data.aux_x.to(device)
    n, b = len(x), params.batch_size
    net = Decoder(target.feature_shape, target.input_shape, params.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS * -(-n // b))
    net.train()
    for _ in range(EPOCHS):
        z = clean + SIGMA * torch.randn(clean.shape, device=device)
        for idx in torch.randperm(n, device=device).split(b):
            loss = F.mse_loss(net(z[idx]), x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return EPOCHS * n / (time.perf_counter() - start)


def throughput(device: torch.device) -> None:
    target, data = demo_target()
    params = DecoderParams(epochs=EPOCHS)
    runs: dict[str, list[float]] = {"privaudit": [], "plain": []}
    ours(target, data, params, device)  # NOTE: untimed warm-up (CUDA context, kernels, caches)
    plain(target, data, params, device)
    repeats = 5 if device.type == "cuda" else 3  # short runs on a GPU: noisier
    for _ in range(repeats):
        runs["privaudit"].append(ours(target, data, params, device))
        runs["plain"].append(plain(target, data, params, device))
    best = {k: max(v) for k, v in runs.items()}
    print(
        f"decoder training on {device} ({torch.get_num_threads()} threads), "
        f"batch {params.batch_size}, {len(data.aux_x)} samples x {EPOCHS} epochs"
    )
    for k, v in best.items():
        shown = [round(s) for s in runs[k]]
        print(f"  {k:9s} {v:8.0f} samples/s (best of {repeats} after a warm-up; all: {shown})")
    overhead = best["plain"] / best["privaudit"] - 1
    print(f"  overhead vs plain loop: {overhead:+.1%} (goal <= +10%)")


def wall_times(budgets: list[str], device: str) -> None:
    goals = {"smoke": 20.0, "standard": 120.0}
    for budget in budgets:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "privaudit",
                    "assess",
                    "--budget",
                    budget,
                    "-q",
                    "--device",
                    device,
                    "-o",
                    out,
                ],
                check=True,
                capture_output=True,
            )
            seconds = time.perf_counter() - start
        goal = f" (goal <= {goals[budget]:.0f} s)" if budget in goals else ""
        print(f"privaudit assess on the demo, budget {budget}: {seconds:.1f} s wall{goal}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budgets", default="smoke,standard")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    throughput(torch.device(args.device))
    wall_times([b for b in args.budgets.split(",") if b], args.device)


if __name__ == "__main__":
    main()
