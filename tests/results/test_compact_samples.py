"""report.json keeps image samples as 8-bit PNG (schema 4) and still reads every older report.

The files in `saved/` are report.json goldens as privaudit committed them, taken from git
history: schema 1 (449e5f6, tests/golden/report.json), schema 2 (3e28552, the same file),
schema 3 (7e44934, tests/reports/golden/report.json and tabular.json). They hold their
samples as float lists, one number per line.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from privaudit.reports import get_reporter
from privaudit.results import (
    MAX_PACKED_VALUES,
    SCHEMA_VERSION,
    AttackResult,
    AuditReport,
    from_dict,
    json_text,
    png_pixels,
    read_report,
    to_dict,
    to_jsonable,
)

SAVED = Path(__file__).parent / "saved"
OLD = sorted(SAVED.glob("*.json"))
MNIST = Path(__file__).resolve().parents[2] / "privaudit" / "demo" / "mnist_2k.npz"


def _old(name: str) -> dict:
    return json.loads((SAVED / name).read_text())


@pytest.mark.parametrize("path", OLD, ids=lambda p: p.name)
def test_older_reports_load_with_their_float_samples(path: Path) -> None:
    saved = json.loads(path.read_text())
    assert saved["schema_version"] in (1, 2, 3) and isinstance(saved["sample_images"], list)
    report = read_report(path)
    assert report.schema_version == SCHEMA_VERSION == 4
    assert report.sample_images == tuple(tuple(row) for row in saved["sample_images"])
    for attack, raw in zip(report.attacks, saved["attacks"], strict=True):
        assert attack.reconstructions == tuple(tuple(row) for row in raw["reconstructions"])
    for fmt in ("html", "markdown", "csv", "json"):
        assert get_reporter(fmt).render(report)


@pytest.mark.parametrize("name", ["report_v1.json", "report_v2.json", "report_v3.json"])
def test_resaving_an_old_image_report_packs_it_and_draws_the_same_pixels(name: str) -> None:
    old = read_report(SAVED / name)
    text = old.to_json()
    data = json.loads(text)
    assert data["schema_version"] == 4
    packed = data["sample_images"]
    assert packed["encoding"] == "png" and packed["shape"] == [12, 1, 8, 8]
    pixels = png_pixels(base64.b64decode(packed["data"]))
    assert pixels.shape == (12 * 8, 8) and pixels.dtype == np.uint8
    truth = np.rint(np.asarray(old.sample_images) * 255).reshape(12 * 8, 8)
    assert np.array_equal(pixels, truth)  # the same 8-bit pixels the HTML grid draws
    again = from_dict(data)
    err = np.abs(np.asarray(again.sample_images) - np.asarray(old.sample_images)).max()
    assert err <= 0.5 / 255 + 1e-12
    assert again.to_json() == text  # a fixed point: loading and saving again changes nothing
    html = get_reporter("html").render
    assert html(again) == html(old)  # every grid of the HTML report has the same pixels


def test_tabular_samples_stay_float_lists_one_line_each() -> None:
    old = read_report(SAVED / "tabular_v3.json")
    text = old.to_json()
    data = json.loads(text)
    assert data["sample_images"] == [list(r) for r in old.sample_images]
    assert from_dict(data) == old  # exact: vectors are not quantised
    first = ", ".join(json.dumps(v) for v in old.sample_images[0])
    assert f"    [{first}]," in text.splitlines()  # a sample is one line, not one per number


def _mnist_report(side: int) -> AuditReport:
    """The v3 golden with 12 real MNIST digits (resized to side x side) and 4 attacks."""
    base = read_report(SAVED / "report_v3.json")
    x = np.load(MNIST)["x"][:12].astype(np.float64) / 255
    if side != 28:
        idx = np.arange(side) * 28 // side
        x = x[:, idx][:, :, idx]
    flat = x.reshape(12, -1).round(4)
    g = np.random.default_rng(0)
    recon = [np.clip(flat + s * g.standard_normal(flat.shape), 0, 1).round(4)
             for s in (0.05, 0.1, 0.2, 0.3)]  # fmt: skip
    attack = base.attacks[0]
    attacks = tuple(
        dataclasses.replace(attack, attack=f"a{i}", reconstructions=tuple(map(tuple, r.tolist())))
        for i, r in enumerate(recon)
    )
    model = dataclasses.replace(base.model, input_shape=(1, side, side))
    return dataclasses.replace(base, model=model, attacks=attacks,
                               sample_images=tuple(map(tuple, flat.tolist())))  # fmt: skip


def test_a_demo_sized_report_is_small_and_grows_only_with_its_images() -> None:
    """12 MNIST digits and 4 reconstruction sets: was about 500 KB of float lists."""
    small, large = _mnist_report(28), _mnist_report(56)
    text_small, text_large = small.to_json(), large.to_json()
    # noisy reconstructions compress worst: real ones (smoother) give smaller PNGs
    assert len(text_small.encode()) < 60_000
    as_schema_3 = json.dumps(to_jsonable(small), indent=2)  # float lists, a number per line
    assert len(as_schema_3) > 8 * len(text_small)

    def without_images(text: str) -> str:
        return re.sub(r'"data": "[A-Za-z0-9+/=]*"', '"data": ""', text).replace("56", "28")

    # four times the pixels: only the PNG data grows, nothing else in the report
    assert without_images(text_large) == without_images(text_small)
    assert len(text_large) > len(text_small)


def test_off_range_or_mismatched_samples_are_kept_as_floats() -> None:
    base = _mnist_report(28)
    attack = base.attacks[0]
    outside = tuple((1.5, *row[1:]) for row in attack.reconstructions)  # not pixels in [0, 1]
    short = tuple(row[:-1] for row in attack.reconstructions)  # not the model's (C, H, W)
    odd = dataclasses.replace(base, attacks=(
        dataclasses.replace(attack, reconstructions=outside),
        dataclasses.replace(attack, attack="b", reconstructions=short),
    ))  # fmt: skip
    data = to_dict(odd)
    assert isinstance(data["sample_images"], dict)
    assert [type(a["reconstructions"]) for a in data["attacks"]] == [list, list]
    loaded = from_dict(json.loads(json_text(data)))
    assert loaded.attacks[0].reconstructions == outside
    assert loaded.attacks[1].reconstructions == short


def test_packed_samples_nest_in_a_harden_report() -> None:
    base = _mnist_report(28)
    from privaudit.results import HardenResult

    harden = HardenResult(output_path="h.onnx", output_sha256="ab" * 32, noise_sigma=0.1,
                          lam=4.0, loss="bound", k=5, epochs=1, freeze_head=False,
                          embed_noise=False, history=(), after=base)  # fmt: skip
    report = dataclasses.replace(base, harden=harden)
    data = json.loads(report.to_json())
    assert data["harden"]["after"]["sample_images"]["encoding"] == "png"
    assert data["harden"]["after"]["attacks"][0]["reconstructions"]["encoding"] == "png"
    loaded = from_dict(data)
    assert loaded.harden is not None
    assert loaded.harden.after.sample_images == loaded.sample_images
    assert isinstance(loaded.harden.after.attacks[0], AttackResult)


def _tampered(**packed: object) -> dict:
    data = json.loads(_mnist_report(28).to_json())
    data["sample_images"] = {**data["sample_images"], **packed}
    return data


@pytest.mark.parametrize(("packed", "message"), [
    ({"encoding": "jpeg"}, "unknown sample encoding"),
    ({"shape": [12, 1, 28]}, "shape must be 4 positive integers"),
    ({"shape": [12, 1, 28, -28]}, "shape must be 4 positive integers"),
    ({"shape": [12, 1, 28, 29]}, "expected a 29x336 PNG"),
    ({"shape": [4096, 1, 4096, 4096]}, f"more than {MAX_PACKED_VALUES}"),
    ({"data": "not base64!"}, "data is not base64"),
    ({"data": base64.b64encode(b"GIF89a....").decode()}, "not a PNG image"),
])  # fmt: skip
def test_a_tampered_packed_set_is_refused(packed: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        from_dict(_tampered(**packed))


def test_a_small_png_declaring_a_huge_image_is_refused_before_decoding() -> None:
    """A PNG header can claim 9000 x 9000 pixels in a few bytes: the size is checked first."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)  # under Pillow's own limit
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))  # fmt: skip
    data = _tampered(data=base64.b64encode(bomb).decode())
    with pytest.raises(ValueError, match="expected a 28x336 PNG, got 9000x9000"):
        from_dict(data)
