"""Why a floor is vacuous, told right; and no library warning reaches the user."""

from __future__ import annotations

import warnings

import privaudit
from privaudit.demo import tabular_data_path, tabular_model_path
from privaudit.reports.prose import floor_sentences


def test_two_samples_say_why_the_floor_is_vacuous_and_leak_no_warning() -> None:
    """A tester's `--limit 2` audit printed torch's 'NumPy array is not writable' warning and
    blamed the features ('too much for any floor to survive') for a floor that one sample per
    class cannot give."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = privaudit.assess(tabular_model_path(), data=tabular_data_path(),
                                  split="layer2", noise=0.1, attacks=["knn"], limit=2,
                                  budget="smoke", device="cpu")  # fmt: skip
    assert report.bound is not None and report.bound.floor_vacuous
    assert "clusters are too small to estimate how the input varies" in report.verdict.headline
    assert "too much" not in report.verdict.headline
    assert "clusters are too small" in " ".join(floor_sentences(report.bound))
