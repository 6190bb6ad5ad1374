"""Reporters: golden files for every format, JSON round-trip, purity, escaping, PNG, compare."""

from __future__ import annotations

import base64
import dataclasses
import difflib
import json
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from privaudit.config import GateConfig
from privaudit.gate import evaluate_gate
from privaudit.reports import REPORTERS, get_reporter
from privaudit.reports.compare import render_compare
from privaudit.reports.markdown_parts import md_escape
from privaudit.reports.png import (
    PNG_SIGNATURE,
    grid_image,
    png_bytes,
    png_pixels,
    sample_grid_uri,
    to_image,
)
from privaudit.reports.prose import interval_sentence
from privaudit.reports.table import format_float
from privaudit.results import (
    ATTACK_COLUMNS,
    SCHEMA_VERSION,
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    DataInfo,
    Dfil,
    EpochStats,
    FeatureScore,
    GateResult,
    HardenResult,
    Interval,
    MixtureTerm,
    ModelInfo,
    Provenance,
    Reference,
    Status,
    SweepPoint,
    Utility,
    Variant,
    Violation,
    build_verdict,
    from_dict,
    harden_verdict,
    to_dict,
)

GOLDEN = Path(__file__).parent / "golden"
PRIOR_MSE = 0.0833
SHAPE = (1, 8, 8)
EVIL = "<script>alert(1)</script>"


def _images(seed: int, n: int = 12) -> tuple[tuple[float, ...], ...]:
    g = np.random.default_rng(seed)
    return _on_8_bits(g.random((n, 64)).round(4))


def _recon(originals: tuple[tuple[float, ...], ...], seed: int, noise: float) -> tuple:
    g = np.random.default_rng(seed)
    x = np.clip(np.array(originals) + noise * g.standard_normal((len(originals), 64)), 0, 1)
    return _on_8_bits(x.round(4))


def _on_8_bits(x: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Pixels as report.json keeps them (k / 255), so that the JSON round trip is exact."""
    return tuple(tuple(v / 255 for v in row) for row in np.rint(x * 255).astype(int).tolist())


def _bound(sigma: float = 0.1, leakage: float = 12.5, floor: float = 0.003593) -> BoundResult:
    return BoundResult(
        noise_sigma=sigma, input_dim=64, feature_dim=64, n_samples=200, covariance="diagonal",
        vacuous=False, leakage_nats=leakage, leakage_bits_per_dim=round(leakage / 64 / 0.6931, 4),
        leakage_interval=Interval(leakage - 0.6, leakage + 0.7), clustering="class-kmeans",
        terms=(MixtureTerm("single", 1, leakage + 1.6, 200),
               MixtureTerm("class-kmeans", 50, leakage, 3)),
        input_entropy_per_dim=-1.2, input_entropy_source="gaussian",
        cond_entropy_per_dim=round(-1.2 - leakage / 64, 4), mse_floor=floor,
        mse_floor_estimate=round(floor * 1.02, 6),
        mse_floor_interval=Interval(floor, round(floor * 1.04, 6)), floor_clustering="class",
        floor_prior=0.0612, floor_vacuous=False, paper_floor=round(floor / 5, 6),
        paper_floor_interval=Interval(floor / 5 * 0.95, floor / 5 * 1.05),
        certified_mse_floor=6.0e-7, floor_ratio=0.6767,
        warnings=("cluster 'class-kmeans/7' has 3 samples",),
    )  # fmt: skip


def _psnr(mse: float) -> float:
    return round(10 * float(np.log10(1 / mse)), 2)


def _attacks(originals: tuple, scale: float = 1.0) -> tuple[AttackResult, ...]:
    idx = tuple(range(12))
    knn = AttackResult(
        "knn", Status.OK, mse=0.0612 * scale, psnr=_psnr(0.0612 * scale), ssim=0.2104 / scale,
        mse_interval=Interval(0.055 * scale, 0.067 * scale), n_samples=50, seconds=0.41,
        params={"k": 1}, samples=idx, reconstructions=_recon(originals, 2, 0.3 * scale),
        recovered=round(1 - 0.0612 * scale / PRIOR_MSE, 4), beats_label=False,
    )  # fmt: skip
    decoder = AttackResult(
        "decoder", Status.OK, mse=0.0315 * scale, psnr=_psnr(0.0315 * scale), ssim=0.4125 / scale,
        mse_interval=Interval(0.028 * scale, 0.035 * scale), psnr_interval=Interval(14.8, 15.6),
        ssim_interval=Interval(0.39, 0.43), n_samples=50, seconds=3.25,
        params={"epochs": 2, "lr": 0.001}, samples=idx,
        reconstructions=_recon(originals, 3, 0.15 * scale),
        recovered=round(1 - 0.0315 * scale / PRIOR_MSE, 4),
        recovered_interval=Interval(0.4, 0.6), beats_label=True,
    )  # fmt: skip
    skipped = AttackResult(
        "optimization", Status.SKIPPED, reason="needs gradients; encoder could not be converted"
    )
    error = AttackResult("gan", Status.ERROR, seconds=1.5, reason="critic diverged (NaN loss)")
    return (knn, decoder, skipped, error)


def make_report() -> AuditReport:
    """The fixed audit report every golden file is rendered from."""
    originals = _images(7)
    model = ModelInfo(
        path="models/net.onnx", sha256="ab" * 32, split="layer3",
        cut_tensor="/layer3/layer3.1/Sigmoid_output_0", input_name="input", input_shape=SHAPE,
        feature_shape=(4, 4, 4), split_max_diff=1.2e-7, torch_conversion="ok",
        noise_source="config",
    )  # fmt: skip
    data = DataInfo(
        source="data/audit.npz", fingerprint="f00d" * 8, n_total=200, n_aux=150, n_eval=50,
        classes=10, transforms=("scale 1/255",), mean=(0.1307,), std=(0.3081,),
    )  # fmt: skip
    sweep = tuple(
        SweepPoint(s, bits, round(-1.2 - bits * 0.6931, 4), floor, round(floor / 5, 6), ratio,
                   acc)
        for s, bits, floor, ratio, acc in (
            (0.05, 0.41, 0.0021, 0.57, 0.95), (0.1, 0.2818, 0.003593, 0.6767, 0.94),
            (0.2, 0.15, 0.0049, 0.81, 0.9),
        )
    )  # fmt: skip
    violation = Violation(
        "min_attack_mse", "decoder", 0.0315, 0.05, "decoder: min_attack_mse 0.0315 is not >= 0.05"
    )
    provenance = Provenance(
        tool_version="0.1.0", created_at="2025-01-02T03:04:05+00:00", command="assess", seed=0,
        device="cpu", config={"noise_sigma": 0.1, "gate": {"min_attack_mse": 0.05}},
        versions={"python": "3.11.9", "torch": "2.9.0", "onnxruntime": "1.20.1"},
        timings={"split": 0.12, "bound": 1.5, "attacks": 5.16, "total": 6.9}, threads=4,
    )  # fmt: skip
    report = AuditReport(
        model=model, data=data, bound=_bound(), sweep=sweep, utility=Utility(0.95, 0.94),
        attacks=_attacks(originals), gate=GateResult(active=True, violations=(violation,)),
        provenance=provenance, warnings=("the evaluation set has only 50 samples",),
        sample_images=originals, references=REFERENCES, dfil=DFIL,
    )  # fmt: skip
    return dataclasses.replace(report, verdict=build_verdict(report))


REFERENCES = (
    Reference("prior", PRIOR_MSE, Interval(0.079, 0.088), psnr=10.79, ssim=0.01, recovered=0.0),
    Reference("label", 0.0523, Interval(0.049, 0.056), psnr=12.82, ssim=0.18, recovered=0.3721),
    # NOTE: the knn attack at its defaults, as in an audit
    Reference("nearest", 0.0612, Interval(0.055, 0.067), psnr=12.13, ssim=0.2104,
              recovered=0.2653),
)
DFIL = Dfil(
    Status.OK, probes=16, relative_standard_error=0.012, mean=41.0, median=38.5, p05=20.1,
    p95=70.2, inverse_mean=0.031, inverse_p05=0.0142, values=(38.5, 20.1, 70.2), seconds=0.8,
)


def _variant(label: str, lam: float, loss: str, acc: float, mse: float | None) -> Variant:
    return Variant(
        label=label, lam=lam, loss=loss, noise_sigma=0.1, seeds=3, clean_accuracy=acc + 0.01,
        noisy_accuracy=acc, noisy_accuracy_std=0.004, decoder_mse=mse,
        decoder_mse_std=None if mse is None else 0.002, leakage_bits_per_dim=0.2,
        mse_floor=0.0045, paper_floor=0.0009, feature_mean=0.5, feature_std=0.21,
        within_class_share=0.58,
    )  # fmt: skip


def make_harden_report() -> AuditReport:
    """The fixture as a `harden` run: the original audit, with the hardened model's in .after."""
    base = make_report()
    after = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, path="privaudit-out/hardened.onnx", sha256="cd" * 32),
        bound=_bound(leakage=8.1, floor=0.0055), utility=Utility(0.93, 0.91),
        attacks=_attacks(base.sample_images, scale=1.45), gate=GateResult(active=True),
        warnings=(),
    )  # fmt: skip
    after = dataclasses.replace(after, verdict=build_verdict(after))
    harden = HardenResult(
        output_path="privaudit-out/hardened.onnx", output_sha256="cd" * 32, noise_sigma=0.1,
        lam=4.0, loss="bound", k=5, epochs=3, freeze_head=False, embed_noise=True,
        history=tuple(EpochStats(e, 0.9 - 0.2 * e, 1.5 - 0.3 * e, 0.8 + 0.05 * e)
                      for e in (1, 2, 3)),
        after=after,
        variants=(_variant("original", 0.0, "none", 0.94, 0.0315),
                  _variant("cem", 4.0, "bound", 0.91, 0.0457),
                  _variant("noise-only x1.0", 0.0, "none", 0.93, 0.0338),
                  _variant("noise-only x1.5", 0.0, "none", 0.9, None)),
        comparison=Comparison(0.352, -1.5, 0.0401, 0.14, "CEM beats the frontier here."),
        fine_tune_samples=200,
    )  # fmt: skip
    provenance = dataclasses.replace(base.provenance, command="harden")
    report = dataclasses.replace(base, harden=harden, provenance=provenance)
    # NOTE: as harden does: the hardened model's verdict is told in the light of hardening
    after = dataclasses.replace(after, verdict=harden_verdict(report))
    return dataclasses.replace(report, harden=dataclasses.replace(harden, after=after))


COLUMNS = ("age", "income", "=cmd|' /C calc'!A0", "grade")
UNITS = {"tabular": ((45.0, 52000.0, 3.0, 2.5), (12.0, 9000.0, 1.5, 1.1)),
         "signal": ((100.0, -3.0), (20.0, 0.5))}


def _scores(names: tuple[str, ...], r2: tuple[float, ...], std: tuple[float, ...],
            exact: bool) -> tuple[FeatureScore, ...]:
    return tuple(
        FeatureScore(name, round(1.02 - r, 4), round((1.02 - r) * s**2, 4), r,
                     round(max(r, 0.0) ** 0.5, 4), 0.5 if exact and name == "grade" else None)
        for name, r, s in zip(names, r2, std, strict=True)
    )  # fmt: skip


def make_vector_report(domain: str) -> AuditReport:
    """The fixture as a tabular (4 columns) or signal (2 channels x 6 steps) audit."""
    base = make_report()
    tabular = domain == "tabular"
    names = COLUMNS if tabular else ("ecg", "accel")
    shape, (mean, std) = ((4,) if tabular else (2, 6)), UNITS[domain]
    size = int(np.prod(shape))
    g = np.random.default_rng(11)
    originals = tuple(tuple(float(v) for v in row) for row in g.standard_normal((12, size))
                      .round(4))  # fmt: skip
    r2s = ((0.1, 0.62, 0.35, 0.8), (0.3, 0.71, 0.05, 0.55)) if tabular else ((0.4, 0.1),
                                                                             (0.7, 0.2))
    attacks = []
    for a, r2 in zip(base.attacks[:2], r2s, strict=True):
        recon = tuple(tuple(round(v + 0.3 * g.standard_normal(), 4) for v in row)
                      for row in originals)  # fmt: skip
        attacks.append(dataclasses.replace(
            a, mse=round(a.mse * 10, 4), psnr=None if tabular else 21.5, ssim=None,
            psnr_interval=None, ssim_interval=None, reconstructions=recon,
            features=_scores(names, r2, std, tabular)))  # fmt: skip
    refs = tuple(dataclasses.replace(r, mse=round(r.mse * 12, 4), psnr=None if tabular else 12.0,
                                     ssim=None, features=_scores(names, (0.0,) * len(names) if
                                     r.name == "prior" else (0.05,) * len(names), std, tabular))
                 for r in base.references)  # fmt: skip
    report = dataclasses.replace(
        base, model=dataclasses.replace(base.model, input_shape=shape, feature_shape=(3,),
                                        domain=domain),
        data=dataclasses.replace(base.data, feature_names=names, feature_mean=mean,
                                 feature_std=std, discrete=tuple(n == "grade" for n in names),
                                 data_range=None if tabular else 140.0, mean=(0.0,), std=(1.0,)),
        bound=dataclasses.replace(base.bound, certified_mse_floor=None, input_dim=size),
        attacks=(*attacks, *base.attacks[2:]), references=refs, sample_images=originals,
    )  # fmt: skip
    return dataclasses.replace(report, verdict=build_verdict(report))



def _defence_variant(label: str, defence: str, acc: tuple[float, ...], mse: tuple[float, ...],
                     **kw: object) -> Variant:
    v = _variant(label, float(kw.pop("lam", 0.0)), str(kw.pop("loss", "none")),
                 sum(acc) / len(acc), sum(mse) / len(mse))
    return dataclasses.replace(
        v, defence=defence, seeds=len(acc), strongest_attack="decoder",
        strongest_mse=v.decoder_mse, strongest_mse_std=0.001, recovered=0.5,
        seed_noisy_accuracy=acc, seed_strongest_mse=mse, **kw)  # type: ignore[arg-type]


def make_defences_report() -> AuditReport:
    """A `harden` run of two defences with a noise allocation kept, that regressed."""
    base = make_harden_report()
    assert base.harden is not None
    stds = (0.08, 0.11, 0.1, 0.108)
    alloc = _defence_variant("noise-allocation", "noise-allocation", (0.9, 0.91), (0.04, 0.042),
                             lam=8.0, loss="bound", noise_stds=stds)
    adv = _defence_variant("adversarial", "adversarial", (0.92, 0.92), (0.035, 0.036), mu=1.0)
    equal = _defence_variant("noise-only x1.0", "noise-only", (0.93, 0.93), (0.033, 0.034))
    matched = _defence_variant("noise-only sigma 0.13 (for noise-allocation)", "noise-only",
                               (0.905, 0.905), (0.036, 0.037))
    comparisons = (
        Comparison(0.22, -2.5, 0.0365, 0.123, "noise-allocation beats the frontier.",
                   defence="noise-allocation", attack="strongest",
                   equal_sigma_mse_gain_std=0.02, frontier_mse_gain_std=0.01,
                   frontier_label=matched.label, frontier_accuracy_delta=0.0),
        Comparison(0.06, -1.0, None, None, "adversarial: no match.", defence="adversarial",
                   attack="strongest", equal_sigma_mse_gain_std=0.01),
    )
    model = dataclasses.replace(base.harden.after.model, noise_stds=stds)
    after = dataclasses.replace(base.harden.after, model=model)
    harden = dataclasses.replace(
        base.harden, defence="noise-allocation", lam=8.0, after=after,
        variants=(base.harden.variants[0], alloc, adv, equal, matched),
        comparison=comparisons[0], comparisons=comparisons, noise_stds=stds,
        chosen="noise-allocation (lambda 8): the largest gain over noise-only at matched "
        "accuracy (+12.3%)",
        regression="The hardened model is LESS private than the original at the same sigma "
        "(0.1): its leakage bound is 0.3 bits per input dimension, above the original's 0.2.",
        history=tuple(dataclasses.replace(e, adversary_loss=0.05, noise_scales=(0.8, 1.1, 1.0,
                      1.08)) for e in base.harden.history),
    )
    return dataclasses.replace(base, harden=harden)



FIXTURES = {"report": make_report, "harden": make_harden_report,
            "defences": make_defences_report,
            "tabular": lambda: make_vector_report("tabular"),
            "signal": lambda: make_vector_report("signal")}
GOLDEN_CASES = [(f, n) for f in ("report", "tabular", "signal") for n in REPORTERS] + [
    (fixture, n) for fixture in ("harden", "defences") for n in REPORTERS if n != "json"
]


def _check_golden(text: str, path: Path, update: bool) -> None:
    if update:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=str(path), tofile="rendered", n=2,
        )  # fmt: skip
        pytest.fail("golden mismatch (rerun with --update-golden if intended):\n" + "".join(diff))


@pytest.mark.parametrize(("fixture", "fmt"), GOLDEN_CASES)
def test_golden(fixture: str, fmt: str, request: pytest.FixtureRequest) -> None:
    reporter = get_reporter(fmt)
    text = reporter.render(FIXTURES[fixture]())
    golden = GOLDEN / f"{fixture}{reporter.suffix}"
    _check_golden(text, golden, request.config.getoption("--update-golden"))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_json_round_trip(fixture: str) -> None:
    report = FIXTURES[fixture]()
    text = get_reporter("json").render(report)
    assert from_dict(json.loads(text)) == report
    assert to_dict(from_dict(json.loads(text))) == to_dict(report)


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("fmt", REPORTERS)
def test_every_reporter_renders_and_is_pure(fixture: str, fmt: str) -> None:
    reporter = REPORTERS[fmt]()
    assert reporter.name == fmt and reporter.suffix.startswith(".")
    first = reporter.render(FIXTURES[fixture]())
    assert first and first == reporter.render(FIXTURES[fixture]())


def _evil_report() -> AuditReport:
    base = make_harden_report()
    return dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, path=f"{EVIL}.onnx", split=EVIL),
        data=dataclasses.replace(base.data, source=f"data/{EVIL}|x`y`.npz"),
        warnings=(f"warning {EVIL}",),
    )


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_user_strings_are_escaped(fmt: str) -> None:
    text = get_reporter(fmt).render(_evil_report())
    assert "<script" not in text.lower()
    assert "alert(1)" in text  # shown as text, not dropped
    assert "&lt;script&gt;" in text
    if fmt == "markdown":
        assert "\\|x\\`y\\`" in text


def test_bidirectional_controls_are_shown_not_obeyed() -> None:
    """A name holding U+202E (right-to-left override) reached the HTML and Markdown raw: it
    can make a report read other than it is written."""
    from privaudit.reports.html_parts import esc

    name = "x3\u202etxt.exe\u2066"
    for text in (esc(name), md_escape(name)):
        assert "\u202e" not in text and "\u2066" not in text
        assert "U+202E" in text and "U+2066" in text


def test_markdown_escape_keeps_table_cells_intact() -> None:
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_escape("`x` <b>") == "\\`x\\` &lt;b&gt;"


@pytest.mark.parametrize("fixture", FIXTURES)
def test_html_is_self_contained(fixture: str) -> None:
    text = get_reporter("html").render(FIXTURES[fixture]())
    assert "<script" not in text.lower()
    assert not re.search(r"https?://", text)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", text)
    images = {"report": 2, "harden": 4, "defences": 4, "tabular": 0, "signal": 0}  # knn + decoder
    assert text.count("<img ") == images[fixture]


def _png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """Decode an 8-bit grey or RGB PNG with the standard library alone (no Pillow).

    Returns width, height, channels and the unfiltered pixel rows (no filter bytes).
    """
    assert png.startswith(PNG_SIGNATURE)
    pos, chunks = len(PNG_SIGNATURE), {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + data
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and interlace == 0 and b"IEND" in chunks
    channels = {0: 1, 2: 3}[colour]
    return width, height, channels, _unfilter(zlib.decompress(chunks[b"IDAT"]), width * channels,
                                              height, channels)  # fmt: skip


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> bytes:
    """Undo the PNG row filters (None, Sub, Up, Average, Paeth): RFC 2083, section 6."""
    assert len(raw) == height * (1 + stride)
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)  # |p-a|, |p-b|, |p-c|
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            else:
                assert kind == 0, kind
        out += row
        prev = row
    return bytes(out)


@pytest.mark.parametrize("fixture", ["report", "harden"])
def test_data_uri_pngs_decode(fixture: str) -> None:
    text = get_reporter("html").render(FIXTURES[fixture]())
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert uris
    for uri in uris:
        width, height, channels, raw = _png_pixels(base64.b64decode(uri))
        assert len(raw) == height * width * channels
        assert (width, height) == (12 * 80 + 11 * 4, 2 * 80 + 4)  # 8 px x10, 4 px gaps


@pytest.mark.parametrize("shape", [(5, 7), (4, 6, 3)])
def test_png_bytes_round_trip(shape: tuple[int, ...]) -> None:
    img = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    width, height, channels, raw = _png_pixels(png_bytes(img))
    assert (width, height, channels) == (shape[1], shape[0], 1 if len(shape) == 2 else 3)
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(shape), img)
    assert np.array_equal(png_pixels(png_bytes(img)), img)  # and Pillow reads the same back


@pytest.mark.parametrize("channels", [1, 3])
def test_png_bytes_keeps_every_pixel_of_a_grid(channels: int) -> None:
    """Pillow's filtered encoding decodes (stdlib alone) to exactly the grid's pixels."""
    g = np.random.default_rng(3)
    shape = (1, 8, 8) if channels == 1 else (3, 6, 5)
    smooth = np.linspace(0, 1, int(np.prod(shape)))  # gradients: Pillow picks Sub/Up/Paeth rows
    flat = [np.clip(smooth + 0.05 * g.standard_normal(smooth.size), 0, 1) for _ in range(12)]
    tiles = [to_image(tuple(x.tolist()), shape) for x in flat]
    shown = [t for t in tiles if t is not None]
    grid = grid_image([shown[:6], shown[6:]])
    width, height, got_channels, raw = _png_pixels(png_bytes(grid))
    assert (height, width, got_channels) == (*grid.shape[:2], channels)
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(grid.shape), grid)


def test_png_bytes_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        png_bytes(np.zeros((2, 2), np.float32))


def test_format_float_is_shared_and_handles_missing() -> None:
    assert format_float(0.0315) == "0.0315" and format_float(1 / 3) == "0.3333"
    assert format_float(None) == format_float(float("nan")) == "n/a"


def test_vector_reports_show_features_in_their_units() -> None:
    tabular = make_vector_report("tabular")
    html = get_reporter("html").render(tabular)
    assert 'id="columns"' in html and "Per-column leakage" in html
    rows = re.findall(r"<tr><td>([^<]*)</td>", html.split('id="columns"')[1].split("</table>")[0])
    assert rows == ["grade", "income", "=cmd|&#x27; /C calc&#x27;!A0", "age"]  # by best R²
    assert html.count(" true</th>") == 4
    assert "There is no certified form" in html
    md = get_reporter("markdown").render(tabular)
    assert "## Per-column leakage" in md
    assert "| R² label (reference) | R² nearest (reference) | R² knn | R² decoder |" in md
    csv = get_reporter("csv").render(tabular).splitlines()
    assert csv[0].endswith(",feature,mse_raw,r2,correlation,exact_match")
    assert sum(",'=cmd|" in line for line in csv) == 5  # defused, once per reconstruction
    signal = get_reporter("html").render(make_vector_report("signal"))
    attacks = signal.split('id="attacks"')[1].split("<section")[0]
    assert 'id="channels"' in signal and attacks.count("<polyline") == 2 * 4 * 2 * 2
    assert "dashed blue: knn reconstruction" in signal


def test_csv_is_tidy() -> None:
    lines = get_reporter("csv").render(make_harden_report()).splitlines()
    assert lines[0] == ",".join(ATTACK_COLUMNS)
    roles = [line.split(",")[0] for line in lines[1:]]
    # NOTE: the original has 3 references + 4 attacks; the hardened model, built from the same
    # fixture with `replace`, keeps the references too.
    assert roles == ["original"] * 7 + ["hardened"] * 7 + ["variant"] * 4
    kinds = [line.split(",")[ATTACK_COLUMNS.index("kind")] for line in lines[1:8]]
    assert kinds == ["reference"] * 3 + ["attack"] * 4


def test_csv_defuses_formulas() -> None:
    report = dataclasses.replace(
        make_report(), model=dataclasses.replace(make_report().model, path="=cmd()")
    )
    assert ",'=cmd()," in get_reporter("csv").render(report)


def test_vacuous_bound_is_worded_plainly() -> None:
    report = make_report()
    bound = dataclasses.replace(
        report.bound, noise_sigma=0.0, vacuous=True, leakage_nats=None, mse_floor=0.0,
        floor_ratio=0.0,
    )  # fmt: skip
    for fmt in ("html", "markdown"):
        text = get_reporter(fmt).render(dataclasses.replace(report, bound=bound))
        assert "vacuous" in text and "sigma = 0" in text


def test_privacy_interval_tells_no_attack_run_from_none_succeeded() -> None:
    report = make_report()
    failed = tuple(
        dataclasses.replace(a, status=Status.ERROR, mse=None) for a in report.attacks
    )
    for fmt in ("html", "markdown"):
        none_run = get_reporter(fmt).render(dataclasses.replace(report, attacks=()))
        none_ok = get_reporter(fmt).render(dataclasses.replace(report, attacks=failed))
        # NOTE: the references still give the upper end
        assert "No attack was run, but the error of the best possible attack" in none_run
        assert "No attack succeeded, but the error of the best possible attack" in none_ok
        bare = dataclasses.replace(report, attacks=(), references=())
        assert ("No attack was run, so only the lower end is known"
                in get_reporter(fmt).render(bare))


def test_an_interval_above_the_point_value_is_pointed_out() -> None:
    report = make_report()
    assert report.bound is not None and report.bound.leakage_interval is not None
    above = dataclasses.replace(
        report.bound.leakage_interval, low=report.bound.leakage_nats + 1.0
    )
    shifted = dataclasses.replace(
        report, bound=dataclasses.replace(report.bound, leakage_interval=above)
    )
    for fmt in ("html", "markdown"):
        assert "wholly above the point value" not in get_reporter(fmt).render(report)
        assert "wholly above the point value" in get_reporter(fmt).render(shifted)


def test_harden_reports_say_what_the_audits_ran_on() -> None:
    report = make_harden_report()
    assert report.harden is not None
    held = dataclasses.replace(report.harden, holdout=0.3, fine_tune_samples=467)
    for fmt in ("html", "markdown"):
        same = get_reporter(fmt).render(report)
        apart = get_reporter(fmt).render(dataclasses.replace(report, harden=held))
        assert "measured on its own training data" in same and "--holdout 0.3" in same
        assert "Both audits ran on 200 held-out samples (30% of the data)" in apart
        assert "fine-tuned on the other 467" in apart and "own training data" not in apart


def _as_version_2(data: dict) -> dict:
    """A schema-3 report's JSON as schema 2 wrote it: the paper's floor was `mse_floor`."""
    old = json.loads(json.dumps(data))
    old["schema_version"] = 2

    def bound(b: dict) -> None:
        b["mse_floor"] = b.pop("paper_floor")
        b["mse_floor_interval"] = b.pop("paper_floor_interval")
        for key in ("mse_floor_estimate", "floor_clustering", "floor_prior", "floor_vacuous"):
            del b[key]

    def audit(r: dict) -> None:
        bound(r["bound"])
        for point in r["sweep"]:
            point["mse_floor"] = point.pop("paper_floor")
        for key in ("references", "dfil", "verdict"):
            del r[key]
        for a in r["attacks"]:
            for key in ("recovered", "recovered_interval", "beats_label"):
                del a[key]

    audit(old)
    if old.get("harden"):
        audit(old["harden"]["after"])
        for v in old["harden"]["variants"]:
            v["mse_floor"] = v.pop("paper_floor")
    return old


@pytest.mark.parametrize("version", [1, 2])
def test_older_reports_still_load(version: int) -> None:
    """Schema 3 moved the paper's floor out of `mse_floor`; (S) is unknown in older reports."""
    new = make_harden_report()
    data = _as_version_2(to_dict(new))
    if version == 1:  # version 2 only added harden.holdout and harden.fine_tune_samples
        del data["harden"]["holdout"], data["harden"]["fine_tune_samples"]
        data["schema_version"] = 1
    loaded = from_dict(data)
    assert loaded.schema_version == SCHEMA_VERSION == 4
    assert loaded.bound is not None and new.bound is not None
    assert loaded.bound.paper_floor == new.bound.paper_floor and loaded.bound.mse_floor is None
    assert loaded.sweep[0].paper_floor == new.sweep[0].paper_floor
    assert loaded.sweep[0].mse_floor is None and loaded.references == () and loaded.dfil is None
    assert loaded.verdict is not None and loaded.harden is not None
    assert loaded.harden.after.verdict is not None
    assert loaded.harden.variants[0].paper_floor == new.harden.variants[0].paper_floor  # type: ignore[union-attr]
    assert loaded.harden.holdout == (0.0 if version == 1 else new.harden.holdout)  # type: ignore[union-attr]
    for fmt in REPORTERS:  # every format renders it, and says the floor predates (S)
        text = get_reporter(fmt).render(loaded)
        assert text
    assert "predates the conditional spectral floor" in get_reporter("markdown").render(loaded)
    gate = evaluate_gate(GateConfig(min_mse_floor=1e-6), loaded.bound, ())
    assert [v.rule for v in gate.violations] == ["min_mse_floor"]  # never passes on (T)
    with pytest.raises(ValueError, match="expected 1 or 2 or 3 or 4"):
        from_dict({**data, "schema_version": 5})


def test_inactive_gate_says_so() -> None:
    report = dataclasses.replace(make_report(), gate=GateResult(active=False))
    for fmt in ("html", "markdown"):
        assert "No gate configured" in get_reporter(fmt).render(report)


@pytest.mark.parametrize("fmt", ["markdown", "html", "json", "csv"])
def test_compare_shows_deltas(fmt: str) -> None:
    a, b = make_report(), make_harden_report().harden.after  # type: ignore[union-attr]
    text = render_compare(a, b, fmt)
    assert text == render_compare(a, b, fmt)
    if fmt == "json":
        rows = {r["metric"]: r for r in json.loads(text)["rows"]}
        assert rows["decoder mse"]["delta"] == pytest.approx(0.0315 * 0.45)
        assert "gan mse" not in rows  # errored in both runs
    elif fmt == "csv":  # full precision, the change as a fraction
        row = next(line for line in text.splitlines() if line.startswith("decoder mse,"))
        metric, a_mse, b_mse, delta, change = row.split(",")
        assert float(a_mse) == 0.0315 and float(delta) == float(b_mse) - 0.0315
        assert float(change) == pytest.approx(0.45)
    else:
        assert "+0.01418" in text and "+45%" in text  # decoder MSE delta, relative change
    if fmt in ("markdown", "html"):
        assert "models/net.onnx" in text and "privaudit-out/hardened.onnx" in text


def test_compare_escapes_and_rejects_unknown_format() -> None:
    evil = _evil_report()
    assert "<script" not in render_compare(evil, make_report(), "html").lower()
    with pytest.raises(Exception, match="unknown compare format"):
        render_compare(evil, evil, "pdf")
    # NOTE: a list, as other commands take, said as such (it read "unknown compare format")
    with pytest.raises(Exception, match="compare writes one format at a time"):
        render_compare(evil, evil, "markdown,json")


def _minimal_report() -> AuditReport:
    return dataclasses.replace(
        make_report(), bound=None, sweep=(), attacks=(), sample_images=(), warnings=(),
        utility=Utility(None, None), gate=GateResult(active=False),
    )  # fmt: skip


@pytest.mark.parametrize("fmt", REPORTERS)
def test_every_reporter_renders_a_minimal_report(fmt: str) -> None:
    assert get_reporter(fmt).render(_minimal_report())


def test_rgb_samples_make_an_rgb_grid() -> None:
    g = np.random.default_rng(0)
    images = tuple(tuple(float(v) for v in row) for row in g.random((2, 3 * 4 * 5)))
    uri = sample_grid_uri(images, images, (3, 4, 5))
    assert uri is not None
    width, height, channels, _ = _png_pixels(base64.b64decode(uri.split(",", 1)[1]))
    assert (width, height, channels) == (2 * 5 * 16 + 4, 2 * 4 * 16 + 4, 3)
    assert sample_grid_uri(images, images, (3, 9, 9)) is None  # shape mismatch: no picture


def test_verdict_headline_names_a_label_reference_that_beats_every_attack() -> None:
    """The free reconstruction (the predicted class's mean) is the best known one: said first."""
    report = make_report()
    best = min(a.mse for a in report.attacks if a.mse is not None)
    assert "label reference does better" not in build_verdict(report).headline
    refs = tuple(dataclasses.replace(r, mse=best / 2, recovered=0.9) if r.name == "label" else r
                 for r in report.references)  # fmt: skip
    headline = build_verdict(dataclasses.replace(report, references=refs)).headline
    assert headline.startswith("The strongest attack")
    assert (f"The label reference does better than every attack: the mean input of the class "
            f"the server predicts anyway reaches MSE {best / 2:.3g}, recovering 90%") in headline


def test_the_interval_ends_at_a_reference_that_beats_every_attack() -> None:
    """The server gets the label reference for free: the best possible attack does at least as
    well, so the interval's upper end is the lower of it and the strongest attack."""
    report = make_report()
    assert report.bound is not None and report.bound.mse_floor
    floor = report.bound.mse_floor
    best = min(a.mse for a in report.attacks if a.mse is not None)
    plain = build_verdict(report)
    assert f"lies between {floor:.3g} and {best:.3g}," in plain.headline
    assert plain.width == pytest.approx(best / floor)
    refs = tuple(dataclasses.replace(r, mse=best / 2) if r.name == "label" else r
                 for r in report.references)  # fmt: skip
    tighter = dataclasses.replace(report, references=refs)
    verdict = build_verdict(tighter)
    assert (f"lies between {floor:.3g} and {best / 2:.3g} (the label reference's), an interval "
            f"{best / 2 / floor:.1f} times wide") in verdict.headline
    assert verdict.width == pytest.approx(best / 2 / floor)
    assert verdict.best_mse == best  # still the strongest attack's own MSE
    # NOTE: the best known reconstruction is the reference's: it is within that of the floor
    assert any(f"the label reference is within {best / 2 / floor:.1f} times that floor" in t
               for t in verdict.sentences)  # fmt: skip
    assert "The label reference does better than every attack" in verdict.headline
    prose = interval_sentence(tighter)
    assert (f"and {format_float(best / 2)}, the MSE that the label reference already reaches, "
            "lower than any attack's") in prose


def test_the_verdict_and_the_reports_format_a_gain_with_one_function() -> None:
    from privaudit.reports import table
    from privaudit.results import format_gain

    assert table.format_gain is format_gain
    assert format_gain(0.291, 0.03) == "+29.1% ± 3.0%"
    assert format_gain(0.1, None) == format_gain(0.1, math.nan) == "+10.0%"
    assert format_gain(math.nan, 0.02) == format_gain(None, None) == "n/a"  # never "+nan%"


def test_without_an_attack_the_references_still_close_the_interval() -> None:
    report = dataclasses.replace(make_report(), attacks=())
    assert report.bound is not None and report.bound.mse_floor
    label = next(r.mse for r in report.references if r.name == "label")
    verdict = build_verdict(report)
    assert verdict.headline == (
        f"No attack succeeded or ran, but the best possible attack's MSE lies between the floor "
        f"{report.bound.mse_floor:.3g} and {label:.3g}, which the label reference reaches "
        "without one, if the input is Gaussian within each class.")
    assert verdict.width is None and verdict.strongest is None
    assert (f"still lies between the floor {format_float(report.bound.mse_floor)} and "
            f"{format_float(label)}, the MSE that the label reference reaches without an "
            "attack") in interval_sentence(report)
    bare = dataclasses.replace(report, references=())
    assert build_verdict(bare).headline.startswith(
        "No attack succeeded or ran: only the floor speaks")
    assert "only the lower end is known" in interval_sentence(bare)


def test_verdict_voids_a_floor_that_a_reconstruction_lies_below() -> None:
    """The floor's assumption failed: the verdict must not say that no attack does better."""
    report = make_report()
    assert report.bound is not None and report.bound.mse_floor is not None
    floor = report.bound.mse_floor
    assert "No attack can do better" in " ".join(build_verdict(report).sentences)
    attacks = tuple(dataclasses.replace(a, mse=floor / 4) if a.attack == "knn" else a
                    for a in report.attacks)  # fmt: skip
    verdict = build_verdict(dataclasses.replace(report, attacks=attacks))
    assert f"The knn attack reaches MSE {floor / 4:.3g}, below the floor {floor:.3g}" in (
        verdict.headline)
    assert f"the best possible attack's MSE is at most {floor / 4:.3g}" in verdict.headline
    assert "No attack can do better" not in " ".join(verdict.sentences)
    assert verdict.width is None and "--fail-under-attack-mse" in " ".join(verdict.sentences)
    refuted = dataclasses.replace(report, attacks=attacks)
    from privaudit.reports import prose

    interval = prose.interval_sentence(refuted)
    assert interval.startswith("There is no lower end") and "no attacker" not in interval
    assert f"at most {floor / 4:.4g}" in interval
    bound = prose.bound_paragraph(refuted.bound, refuted)
    assert "No attacker, whatever its method" not in bound and "would be" in bound
    assert "No attacker, whatever its method" in prose.bound_paragraph(report.bound, report)


def test_verdict_does_not_call_for_hardening_when_no_attack_beats_the_mean() -> None:
    """An attack worse than the prior "beat" a label reference that was worse still."""
    report = make_report()
    attacks = tuple(dataclasses.replace(a, recovered=-0.02, beats_label=True)
                    for a in report.attacks)  # fmt: skip
    verdict = build_verdict(dataclasses.replace(report, attacks=attacks))
    assert "harden" not in verdict.next_step and "--budget thorough" in verdict.command
    assert "it recovers nothing beyond the mean input" in " ".join(verdict.sentences)
    assert "learns more than the class" not in " ".join(verdict.sentences)


def test_a_zero_floor_and_k_means_cells_are_said_in_words() -> None:
    """Every column discrete gives a floor of 0: 'no attack can do better than MSE 0' says
    nothing; and (S) conditioned on k-means read 'Gaussian within each kmeans'."""
    from privaudit.reports import prose

    report = make_report()
    assert report.bound is not None
    kmeans = dataclasses.replace(report, bound=dataclasses.replace(
        report.bound, floor_clustering="kmeans"))  # fmt: skip
    assert "Gaussian within each k-means cell of the features" in " ".join(
        build_verdict(kmeans).sentences)
    assert "within each k-means cell" in prose.bound_paragraph(kmeans.bound, kmeans)
    zero = dataclasses.replace(kmeans, bound=dataclasses.replace(
        kmeans.bound, mse_floor=0.0, mse_floor_estimate=0.0, mse_floor_interval=None))  # fmt: skip
    sentences = " ".join(build_verdict(zero).sentences)
    assert "No attack can do better" not in sentences
    assert "The floor is 0: no input dimension has a density, their grid" in sentences
    paragraph = prose.bound_paragraph(zero.bound, zero)
    assert "floor is 0 here" in paragraph and "No attacker, whatever its method" not in paragraph


def test_compare_says_when_the_two_were_audited_at_different_sigmas() -> None:
    """Sigma 0.1 against 0.5 of the same model compared with no word on the noise."""
    a = make_report()
    assert a.bound is not None
    b = dataclasses.replace(a, bound=dataclasses.replace(a.bound, noise_sigma=0.5))
    text = render_compare(a, b, "markdown")
    assert "A was audited at sigma 0.1, B at sigma 0.5" in text
    assert "audited at sigma" not in render_compare(a, a, "markdown")


def test_verdict_never_suggests_another_sigma_for_a_model_that_adds_its_own_noise() -> None:
    """Such a model refuses every sigma but its own (`check_embedded_sigma`): the next step
    names the model it was hardened from instead of suggesting a command that exits 2."""
    report = make_report()
    floor = report.bound.mse_floor if report.bound is not None else None
    assert floor is not None
    attacks = tuple(dataclasses.replace(a, beats_label=False, recovered=0.2, mse=floor * 1.5)
                    for a in report.attacks)  # fmt: skip
    settled = dataclasses.replace(report, attacks=attacks, references=())
    vacuous = dataclasses.replace(report, bound=dataclasses.replace(report.bound, vacuous=True))
    for case in (settled, vacuous):
        plain = build_verdict(case)
        assert "--noise-sweep" in plain.command and "models/net.onnx" in plain.command
        own = dataclasses.replace(case, model=dataclasses.replace(case.model, embedded_noise=True))
        verdict = build_verdict(own)
        assert "models/net.onnx" not in verdict.command, verdict.command
        assert "ORIGINAL_MODEL" in verdict.command
        assert "adds its own" in verdict.next_step
        assert "privaudit.hardened_from" in verdict.next_step
        assert "--noise-sweep" in verdict.command  # of the original, which takes any sigma
        # a channels-last model's original has no record of its layout: the command says it
        last = dataclasses.replace(own, model=dataclasses.replace(own.model,
                                                                  layout="channels-last"))
        assert "--layout channels-last" in build_verdict(last).command


def test_the_suggested_harden_never_writes_over_the_model_it_hardens() -> None:
    """Audited, a model named hardened.onnx was told to run `harden ... -o hardened.onnx`,
    which harden refuses (it never overwrites its input)."""
    report = make_report()
    assert build_verdict(report).command.endswith("-o hardened.onnx")
    again = dataclasses.replace(report, model=dataclasses.replace(
        report.model, path="out/hardened.onnx"))
    command = build_verdict(again).command
    assert command.startswith("privaudit harden out/hardened.onnx")
    assert command.endswith("-o hardened-again.onnx")
