"""A real local Ray cluster for the tests: `ray start --head` on the loopback address, stopped
afterwards (also on failure) by ending exactly the processes it started.

# NOTE: not `ray stop`: it ends every Ray process of the machine by name, other users'
# clusters on a shared runner included. The head runs with `--block` in its own session; at
# the end its whole process tree (snapshot while it is alive: the raylet's workers included)
# gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["local_ray_cluster"]

_AUTH_MODE = "RAY_AUTH_MODE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(root: int) -> list[int]:
    """`root` and every process descended from it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stop(head: subprocess.Popen[str]) -> None:
    pids = _tree(head.pid)
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal_all([p for p in pids if _alive(p)], signal.SIGKILL)
    try:
        head.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _wait_up(ray: str, address: str, head: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        status = subprocess.run([ray, "status", "--address", address], capture_output=True,
                                text=True, timeout=30)  # fmt: skip
        if status.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray cluster at {address} did not come up in {timeout:.0f} s")


@contextmanager
def local_ray_cluster(temp_dir: Path, cpus: int = 2, timeout: float = 60) -> Iterator[str]:
    """Start a head node on 127.0.0.1 with `cpus` CPUs; yield its address; always stop it."""
    # NOTE: next to this interpreter first: a venv's `ray` without the venv on PATH
    beside = Path(sys.executable).parent / "ray"
    ray = str(beside) if beside.is_file() else shutil.which("ray")
    if ray is None:
        raise RuntimeError("the `ray` command is not on PATH")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    command = [ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
               "--port", str(port), "--num-cpus", str(cpus), "--num-gpus", "0",
               "--include-dashboard=false", "--disable-usage-stats",
               "--temp-dir", str(temp_dir), "--object-store-memory", str(200 * 1024 * 1024)]
    # NOTE: a token in ~/.ray/auth_token (a local `ray.init()` writes one) turns token
    # authentication on for every `ray start` that does not say otherwise, and this throwaway
    # loopback cluster then never answers `ray status`; its clients (the sweeps run inside
    # the block) inherit the same setting.
    saved = os.environ.get(_AUTH_MODE)
    os.environ[_AUTH_MODE] = "disabled"
    head = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        _wait_up(ray, address, head, timeout)
        yield address
    finally:
        _stop(head)
        if saved is None:
            os.environ.pop(_AUTH_MODE, None)
        else:
            os.environ[_AUTH_MODE] = saved
