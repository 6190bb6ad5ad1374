"""Issue 15, item 8: the linear-Gaussian closed form (method.md §3) as a rank-2 (tabular) model.

x ~ N(mu, Sx) in 64 dimensions with values far outside [0, 1], z = A x + N(0, sigma^2 I_16),
exported as an ONNX Linear with input (N, 64) and audited like any tabular model. Everything
is compared in standardised units (each column divided by its standard deviation over the
audit data, as privaudit measures): I(x; z) is unchanged by that scaling, the posterior
covariance P and h(x) are rescaled with it.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import privaudit

D, M, N, SIGMA = 64, 16, 3000, 0.5

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ClosedForm:
    """The model, the data and the exact quantities of the linear-Gaussian case."""

    def __init__(self) -> None:
        g = np.random.default_rng(0)
        q, _ = np.linalg.qr(g.standard_normal((D, D)))
        cov = (q * (6.0 * 0.85 ** np.arange(D) + 0.05)) @ q.T  # rotated, decaying spectrum
        mean = g.uniform(-20, 40, D)
        self.x = g.multivariate_normal(mean, cov, size=N).astype(np.float32)
        a = g.standard_normal((M, D)) / math.sqrt(D)
        self.model = _export(a)
        s = self.x.astype(np.float64).std(axis=0)  # the standardisation privaudit applies
        self.std = s
        post = np.linalg.inv(np.linalg.inv(cov) + a.T @ a / SIGMA**2)
        self.information = float(0.5 * np.linalg.slogdet(np.eye(M) + a @ cov @ a.T / SIGMA**2)[1])
        self.mmse = float(np.trace(post / np.outer(s, s))) / D
        cov_std = cov / np.outer(s, s)
        self.entropy = float(0.5 * np.linalg.slogdet(2 * math.pi * math.e * cov_std)[1] / D)


def _export(a: np.ndarray) -> onnx.ModelProto:
    torch.manual_seed(0)
    encoder = nn.Linear(D, M)
    encoder.weight.data = torch.tensor(a, dtype=torch.float32)
    encoder.bias.data.zero_()
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("head", nn.Linear(M, 2))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(1, D),), buffer, dynamo=False,
                          input_names=["x"], output_names=["y"], opset_version=17,
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return onnx.load_from_string(buffer.getvalue())


def test_linear_gaussian_tabular_model_against_the_closed_form() -> None:
    case = ClosedForm()
    assert case.x.min() < -1 and case.x.max() > 2  # values in their own units, not pixels
    report = privaudit.assess(
        case.model, data=case.x, split="encoder", noise=SIGMA, attacks=["decoder"],
        budget="standard", bound={"dfil": False, "input_entropy": repr(case.entropy)},
    )
    b, decoder = report.bound, report.attacks[0]
    assert report.model.domain == "tabular" and report.model.input_shape == (D,)
    assert np.allclose(report.data.feature_std, case.std)
    prior = next(r for r in report.references if r.name == "prior")
    assert prior.mse == pytest.approx(1.0, abs=0.1)  # standardised: guessing the mean costs ~1
    assert b is not None and b.leakage_nats is not None and b.mse_floor is not None
    # The bound covers the true I(x; z).
    assert b.leakage_nats >= case.information, (b.leakage_nats, case.information)
    # The floor with the true h(x) (the paper's form, h given in standardised units) and the
    # conditional spectral floor are at most the MMSE.
    assert b.input_entropy_source == "user"
    assert b.paper_floor <= case.mmse, (b.paper_floor, case.mmse)
    assert b.mse_floor <= case.mmse, (b.mse_floor, case.mmse)
    assert b.certified_mse_floor is None  # no 8-bit grid: no certified floor
    # The decoder at the standard budget comes within 1.25 times the MMSE.
    assert decoder.mse is not None and decoder.mse <= 1.25 * case.mmse, (decoder.mse, case.mmse)
