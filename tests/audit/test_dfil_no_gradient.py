"""dFIL is skipped, with its reason, when the encoder's features have no gradient path."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from onnx_cases import CastIds
from torch import nn

from privaudit.audit.dfil import measure_dfil
from privaudit.interpreter import to_torch
from privaudit.model import load_model, split_model
from privaudit.results import Status

CPU = torch.device("cpu")


def test_an_encoder_that_casts_its_input_to_integers_is_skipped(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "ids.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(CastIds().eval(), (torch.rand(2, 12) * 50,), str(path), dynamo=False,
                          opset_version=17, input_names=["ids"], output_names=["logits"],
                          dynamic_axes={"ids": {0: "b"}, "logits": {0: "b"}})
    split = split_model(load_model(path), "enc")
    encoder = to_torch(split.encoder, trainable=False)
    x = np.random.default_rng(0).integers(0, 50, (16, 12)).astype(np.float32)
    result = measure_dfil(encoder, x, 0.1, seed=0, device=CPU)
    assert result.status is Status.SKIPPED
    assert "no gradient path" in (result.reason or "")


def test_trainable_weights_do_not_count_as_a_path_from_the_input() -> None:
    torch.manual_seed(0)

    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.w * x.round().detach()

    x = np.random.default_rng(1).random((8, 3)).astype(np.float32)
    result = measure_dfil(Constant(), x, 0.1, seed=0, device=CPU)
    assert result.status is Status.SKIPPED and "no gradient path" in (result.reason or "")
