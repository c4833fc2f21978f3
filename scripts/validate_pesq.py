"""Check voxclean's PESQ path against reference scores.

    .venv/bin/python scripts/validate_pesq.py [--data ../shared/data] [--doc docs/pesq_validation.md]

1. ``conformance/pesq_pair``: ``score_pair(..., ["pesq_wb", "pesq_nb"])`` must reproduce
   ``expected.json`` within 0.01.
2. ``conformance/p862/voipref_8k.txt``: the ITU-T P.862 conformance pairs (8 kHz), expected **raw**
   P.862 scores. The ``pesq`` package returns P.862.1 MOS-LQO; it is mapped back to raw with the
   inverse of P.862.1 and compared. Tolerance 0.001: the expected scores are printed to 3 decimals
   (rounding error up to 0.0005) and the float32 arithmetic of the C code plus the inverse mapping add
   under 1e-5 (d raw / d MOS <= 1.4 over the range of the list).
3. ``voipref_16k.txt`` (informative): the same pairs at 16 kHz. The ITU made those files with the STL
   ``filter -up HQ2``; they are not shipped, so the 8 kHz files are upsampled here with soxr, and the
   differences measure the upsampler as much as the PESQ path. No pass/fail.
4. ``supp23_*.txt`` need the ITU-T P-series Supplement 23 database, which is not in the data folder:
   reported as not run.

Exit status 0 when checks 1 and 2 pass, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voxclean.audio import load, resample  # noqa: E402
from voxclean.metrics import score_pair  # noqa: E402
from voxclean.metrics.pesq_stoi import mos_lqo_to_raw, pesq_mos  # noqa: E402

PAIR_TOL = 0.01
RAW_TOL = 0.001


def read_list(path: Path) -> list[tuple[str, str, int, float]]:
    """Rows ``(reference, degraded, fs, expected)`` of an ITU score list (tab separated, header)."""
    rows = []
    for line in path.read_text().splitlines()[1:]:
        if line.strip():
            a, b, fs, s = [t.strip() for t in line.split("\t")]
            rows.append((a, b, int(fs), float(s)))
    return rows


def check_pair(data: Path) -> dict:
    d = data / "conformance" / "pesq_pair"
    exp = json.loads((d / "expected.json").read_text())
    ref, sr = load(d / exp["ref"])
    deg, _ = load(d / exp["deg"], sr=sr)
    got = score_pair(ref, deg, sr, metrics=["pesq_wb", "pesq_nb"])
    nb8 = pesq_mos(ref, deg, sr, "nb", rate=8000)
    return {"sr": sr, "wb": (exp["wb"], got["pesq_wb"]), "nb": (exp["nb"], got["pesq_nb"]), "nb_at_8k": nb8}


def check_list(data: Path, name: str, fs: int, skip: int = 0) -> list[dict]:
    """Score every row of an ITU list; ``skip`` drops that many leading samples of both 8 kHz files
    before any resampling."""
    d = data / "conformance" / "p862"
    out = []
    for a, b, list_fs, expected in read_list(d / name):
        # the lists name voip/xxx.wav (8 kHz) or voip/xxx.16k.raw (made from them); files sit in p862/
        ra, rb = (d / Path(p).name.replace(".16k.raw", ".wav") for p in (a, b))
        ref, sr = load(ra)
        deg, _ = load(rb, sr=sr)
        ref, deg = ref[skip:], deg[skip:]
        if fs != sr:
            ref, deg = resample(ref, sr, fs), resample(deg, sr, fs)
        mos = pesq_mos(ref, deg, fs, "nb", rate=fs)
        raw = mos_lqo_to_raw(mos, "p862.1")
        out.append({"ref": a, "deg": b, "fs": list_fs, "expected": expected, "mos_lqo": mos, "raw": raw,
                    "err": raw - expected})
    return out


def markdown(pair: dict, l8: list[dict], l16: list[dict], data: Path) -> str:
    e8 = max(abs(r["err"]) for r in l8)
    e16 = max(abs(r["err"]) for r in l16)
    e16s = max(abs(r["err_skip"]) for r in l16)
    med = sorted(abs(r["err"]) for r in l16)[len(l16) // 2]
    lines = [
        "# PESQ validation",
        "",
        "Made by `.venv/bin/python scripts/validate_pesq.py --doc docs/pesq_validation.md` "
        "(data: `../shared/data/conformance`). `tests/test_metrics_pesq.py` asserts the same numbers.",
        "",
        "PESQ is the ITU-T P.862 reference C code through the `pesq` package (0.0.4). It returns MOS-LQO "
        "(P.862.1 for narrow band, P.862.2 for wide band); raw scores are recovered with the inverse of "
        "P.862.1, `raw = (4.6607 - ln(4 / (MOS - 0.999) - 1)) / 1.4945`.",
        "",
        "## 1. `pesq_pair` vs `expected.json` (tolerance 0.01)",
        "",
        "| value | expected | voxclean | abs. error |",
        "|---|---:|---:|---:|",
    ]
    for k, label in (("wb", "pesq_wb (P.862.2, 16 kHz)"), ("nb", "pesq_nb (P.862 + P.862.1, 16 kHz)")):
        exp, got = pair[k]
        lines.append(f"| {label} | {exp:.4f} | {got:.4f} | {abs(got - exp):.4f} |")
    lines += [
        "",
        f"`expected.json`'s narrow-band value is P.862 run at 16 kHz. Down-sampling the pair to 8 kHz first "
        f"gives {pair['nb_at_8k']:.4f} ({pair['nb_at_8k'] - pair['nb'][0]:+.4f}); hence `pesq_nb` runs at "
        "16 kHz for signals of 16 kHz or more and at 8 kHz only below that (`PesqNB(rate=8000)` forces 8 kHz).",
        "",
        f"## 2. ITU-T P.862 conformance, `voipref_8k.txt` ({len(l8)} pairs, raw P.862, tolerance {RAW_TOL})",
        "",
        f"**Largest absolute error: {e8:.4f}** (the expected scores have 3 decimals, so rounding alone "
        "allows 0.0005).",
        "",
        "| reference | degraded | expected raw | voxclean raw | MOS-LQO | error |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['ref']} | {r['deg']} | {r['expected']:.3f} | {r['raw']:.4f} | {r['mos_lqo']:.4f} | "
              f"{r['err']:+.4f} |" for r in l8]
    lines += [
        "",
        f"## 3. `voipref_16k.txt` (informative, {len(l16)} pairs)",
        "",
        "The ITU's 16 kHz files were made from the 8 kHz ones with the STL `filter -up HQ2`, which is not "
        "available here; they are upsampled with soxr (VHQ) instead, so these differences include the "
        f"difference between the two upsamplers. Largest absolute error: {e16:.4f}; median {med:.4f}; mean "
        f"{sum(abs(r['err']) for r in l16) / len(l16):.4f}. The few large errors are pairs whose score "
        "jumps with tiny changes of the input: the ITU batch file calls `filter -up HQ2 in out 1 23`, which may start at "
        "sample 23, and dropping the first 22 samples here changes those scores by tenths "
        f"(largest error then {e16s:.4f}). Nothing here is a pass/fail check.",
        "",
        "| degraded | expected raw | voxclean raw | error | raw, 22 samples dropped | error |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['deg']} | {r['expected']:.3f} | {r['raw']:.4f} | {r['err']:+.4f} | {r['raw_skip']:.4f} | "
              f"{r['err_skip']:+.4f} |" for r in l16]
    lines += [
        "",
        "## 4. Not run",
        "",
        "`supp23_8k.txt`, `supp23_16k.txt` and `supp23_wb.txt` list pairs of the ITU-T P-series Supplement 23 "
        "database (`g729char/...`), which is not in the data folder.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--doc", type=Path, default=None, help="write the results as Markdown to this file")
    args = ap.parse_args(argv)
    if not (args.data / "conformance").is_dir():
        print(f"{args.data / 'conformance'}: not found; nothing to validate", file=sys.stderr)
        return 2
    warnings.simplefilter("error")              # no NaN may slip through silently
    pair = check_pair(args.data)
    l8 = check_list(args.data, "voipref_8k.txt", 8000)
    l16 = check_list(args.data, "voipref_16k.txt", 16000)
    for r, s in zip(l16, check_list(args.data, "voipref_16k.txt", 16000, skip=22)):
        r["raw_skip"], r["err_skip"] = s["raw"], s["err"]

    print("1. pesq_pair vs expected.json")
    ok_pair = True
    for k in ("wb", "nb"):
        exp, got = pair[k]
        ok_pair &= abs(got - exp) <= PAIR_TOL
        print(f"   pesq_{k}: expected {exp:.4f}  got {got:.4f}  |err| {abs(got - exp):.4f}")
    print(f"   (narrow band after down-sampling to 8 kHz: {pair['nb_at_8k']:.4f})")
    print(f"2. voipref_8k.txt: {len(l8)} pairs, raw P.862")
    print(f"   {'reference':<22} {'degraded':<26} {'expected':>8} {'raw':>8} {'error':>8}")
    for r in l8:
        print(f"   {r['ref']:<22} {r['deg']:<26} {r['expected']:8.3f} {r['raw']:8.4f} {r['err']:+8.4f}")
    e8 = max(abs(r["err"]) for r in l8)
    print(f"   largest absolute error: {e8:.4f} (tolerance {RAW_TOL})")
    e16 = max(abs(r["err"]) for r in l16)
    e16s = max(abs(r["err_skip"]) for r in l16)
    print(f"3. voipref_16k.txt (informative, soxr-upsampled): largest absolute error {e16:.4f} "
          f"({e16s:.4f} with the first 22 samples dropped)")
    print("4. supp23_*.txt: not run (Supplement 23 database absent)")
    ok = ok_pair and e8 <= RAW_TOL
    print("PASS" if ok else "FAIL")
    if args.doc:
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.doc.with_name(args.doc.name + ".part")
        tmp.write_text(markdown(pair, l8, l16, args.data))
        tmp.replace(args.doc)
        print(f"wrote {args.doc}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
