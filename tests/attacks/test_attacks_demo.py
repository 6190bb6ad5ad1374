"""The battery on the real demo model: the decoder really inverts an un-noised early cut."""

from __future__ import annotations

import pytest
import torch

from privaudit.audit import run_assess
from privaudit.config import AttacksConfig, Config
from privaudit.results import Status


@pytest.mark.slow
def test_decoder_inverts_demo_layer2_without_noise() -> None:
    torch.set_num_threads(1)
    cfg = Config(
        split="layer2", noise=0.0, max_eval=200,
        attacks=AttacksConfig(enabled=("decoder",), budget="standard"),
    )
    report = run_assess(cfg)
    (decoder,) = report.attacks
    assert decoder.status is Status.OK
    assert decoder.psnr is not None and decoder.psnr >= 20.0, decoder
    assert report.bound is not None and report.bound.vacuous  # sigma = 0: no guarantee
    assert len(report.sample_images) == 12 and len(decoder.reconstructions) == 12
