"""WPE and beamformers on ../shared/data/multichannel: DNSMOS, and STOI / SI-SDR where a clean image exists.

    .venv/bin/python scripts/multichannel_eval.py [--snr 5] [--out docs/multichannel.md]

Scenes
------
* ``ami_wsj20_8ch`` -- one real reverberant utterance recorded by the 8 microphones of an AMI
  array (8 mono files, nara_wpe's test data). No close-talk recording ships with it, so only the
  non-intrusive DNSMOS is reported.
* ``speechbrain_4mic`` -- 4-channel recordings (16 kHz, 10 s) of speech and of noise, each from one
  source whose direction is in the file name (``speech_x_y_z``, ``noise_x_y_z``, ``noise_diffuse``).
  They are separate recordings of the same array, so mixing the 4-channel speech with the 4-channel
  noise at a known SNR (measured on the reference microphone 0) gives a mixture whose clean target is
  the speech file's channel 0. The array geometry is not shipped; it follows from the data: the
  inter-channel delays (GCC-PHAT) of the three sources fit a 10 cm square in the z = 0 plane with
  microphones at (-5,-5), (-5,+5), (+5,-5), (+5,+5) cm (e.g. the noise at (0.70,-0.70) reaches
  microphones 0 and 3 at the same instant, the speech at (-0.99,0,0.15) reaches 0 and 1 together).
  That geometry and the direction in the file name drive the *steered* beamformers; the blind ones
  use neither.

Every method's output is compared at 16 kHz: DNSMOS (P.835 SIG/BAK/OVRL via ``speechmos``) on the
output alone; STOI (``pystoi``) and SI-SDR against the clean reference-microphone image.

DNSMOS scores one 9.01 s window (shorter clips are looped to fill it), and on a single clip it moves
with where that window starts: the AMI reference microphone scores OVRL 1.85, or 2.07 with its first
0.11 s dropped. Each DNSMOS value here is therefore the mean over four start offsets (0, 0.25, 0.5,
0.75 s); differences below ~0.1 are within that noise.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from voxclean.audio.io import load  # noqa: E402
from voxclean.enhance import ENHANCERS  # noqa: E402
from voxclean.metrics import METRICS, score_pair  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "multichannel"
SB_MICS = np.array([[-0.05, -0.05, 0.05, 0.05], [-0.05, 0.05, -0.05, 0.05], [0.0, 0.0, 0.0, 0.0]])


def methods(geometry: tuple[np.ndarray, np.ndarray] | None):
    """(label, function (channels, samples) -> mono) for every method compared."""
    wpe, wpe_on = ENHANCERS.get("wpe"), ENHANCERS.get("wpe-online")
    logmmse = ENHANCERS.get("logmmse")
    das, mvdr = ENHANCERS.get("delay-and-sum", postfilter=None), ENHANCERS.get("mvdr", postfilter=None)
    mvdr_pf = ENHANCERS.get("mvdr")                                     # + log-MMSE post-filter
    out = [
        ("reference mic", lambda x, sr: x[0]),
        ("log-MMSE (ref mic)", lambda x, sr: logmmse.enhance(x[0], sr)),
        ("WPE 1-ch (ref mic)", lambda x, sr: wpe.enhance(x[0], sr)),
        ("WPE multi-ch", lambda x, sr: wpe.enhance_multichannel(x, sr)[0]),
        ("WPE online multi-ch", lambda x, sr: wpe_on.enhance_multichannel(x, sr)[0]),
        ("delay-and-sum (blind)", lambda x, sr: das.enhance_multichannel(x, sr)[0]),
        ("MVDR (blind, Souden)", lambda x, sr: mvdr.enhance_multichannel(x, sr)[0]),
        ("MVDR (blind) + post-filter", lambda x, sr: mvdr_pf.enhance_multichannel(x, sr)[0]),
        ("WPE multi-ch -> MVDR + post-filter",
         lambda x, sr: mvdr_pf.enhance_multichannel(wpe.enhance_multichannel(x, sr), sr)[0]),
    ]
    if geometry is not None:
        mics, doa = geometry
        das_g = ENHANCERS.get("delay-and-sum", mic_positions=mics, doa=doa, postfilter=None)
        mvdr_g = ENHANCERS.get("mvdr", mic_positions=mics, doa=doa, postfilter=None)
        out[6:6] = [("delay-and-sum (steered)", lambda x, sr: das_g.enhance_multichannel(x, sr)[0]),
                    ("MVDR (steered)", lambda x, sr: mvdr_g.enhance_multichannel(x, sr)[0])]
    return out


def dnsmos_mean(metric, y: np.ndarray, sr: int, offsets_s=(0.0, 0.25, 0.5, 0.75)) -> dict[str, float]:
    runs = [metric.score(None, y[int(o * sr):], sr) for o in offsets_s]
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def scenes(snr: float):
    ami = sorted((DATA / "ami_wsj20_8ch").glob("*.flac"))
    if ami:
        x = np.stack([load(p)[0] for p in ami])
        yield "AMI WSJ20, 8 mics (real reverberant, no clean reference)", x, 16000, None, None
    sb = DATA / "speechbrain_4mic"
    speech_files = sorted(sb.glob("speech_*.flac"))
    if not speech_files:
        return
    speech_file = speech_files[0]
    speech, sr = load(speech_file)
    doa = np.array([float(v) for v in speech_file.stem.split("_")[1:]])
    for noise_file in sorted(sb.glob("noise_*.flac")):
        noise, _ = load(noise_file)
        gain = np.sqrt(np.sum(speech[0] ** 2) / (np.sum(noise[0] ** 2) * 10 ** (snr / 10)))
        mix = speech + gain * noise
        peak = np.max(np.abs(mix))
        scale = 0.9 / peak if peak > 0.9 else 1.0
        label = f"speechbrain 4 mics: {speech_file.stem} + {noise_file.stem} at {snr:g} dB"
        yield label, (mix * scale).astype(np.float32), sr, speech[0] * scale, (SB_MICS, doa)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snr", type=float, default=5.0, help="SNR at the reference mic for the speechbrain mixtures")
    ap.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    args = ap.parse_args(argv)
    dnsmos = METRICS.get("dnsmos")
    lines = [f"Command: `{' '.join(['.venv/bin/python', 'scripts/multichannel_eval.py', *sys.argv[1:]])}`", ""]
    for label, x, sr, clean, geometry in scenes(args.snr):
        lines += [f"### {label}", "", "| method | DNSMOS OVRL | SIG | BAK | STOI | SI-SDR (dB) | time (s) |",
                  "|---|---|---|---|---|---|---|"]
        for name, fn in methods(geometry):
            t = time.process_time()
            y = np.asarray(fn(x, sr), dtype=np.float32)[: x.shape[1]]
            dt = time.process_time() - t
            peak = float(np.max(np.abs(y)))
            d = dnsmos_mean(dnsmos, y / peak * 0.9 if peak > 1 else y, sr)
            if clean is not None:
                s = score_pair(clean, y, sr, metrics=["stoi", "si_sdr"])
                intr = f"{s['stoi']:.3f} | {s['si_sdr']:.1f}"
            else:
                intr = "- | -"
            lines.append(f"| {name} | {d['dnsmos_ovrl']:.2f} | {d['dnsmos_sig']:.2f} | {d['dnsmos_bak']:.2f} | "
                         f"{intr} | {dt:.2f} |")
            print(lines[-1], flush=True)
        lines.append("")
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        tmp = args.out.with_suffix(".part")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text + "\n")
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
