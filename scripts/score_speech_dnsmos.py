"""DNSMOS P.835 of every file in speech folders, and a list of the ones clean enough to be training targets.

A target that holds background noise teaches an enhancer to leave that noise in (the loss rewards it), so
training speech can be filtered on DNSMOS BAK (the background-noise score) before it is mixed::

    python scripts/score_speech_dnsmos.py ../shared/data/speech/librispeech_train_clean_100 \
        ../shared/data/speech/speechocean762 ../shared/data/speech/cmu_arctic \
        --tsv out/speech_dnsmos.tsv --list configs/speech_bak38.txt --min-bak 3.8

``--list`` writes the files with BAK >= ``--min-bak``, one per line, relative to the list's own folder;
a ``.txt`` list is accepted wherever the training config takes a speech folder
(:func:`voxclean.degrade.noise.list_audio`). Re-running reuses the scores already in ``--tsv``; a folder with an
``utterances.tsv`` that gives ``dnsmos_bak`` per ``file`` (speechocean762) is taken from there, not re-scored.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--tsv", required=True, help="per-file scores (path, sig, bak, ovrl); reused when present")
    ap.add_argument("--list", help="write the files with BAK >= --min-bak here")
    ap.add_argument("--min-bak", type=float, default=3.8)
    a = ap.parse_args(argv)
    from voxclean.degrade.noise import list_audio, load_mono
    from voxclean.metrics.dnsmos import DNSMOS
    files = list_audio(a.folders, "speech")
    tsv = Path(a.tsv)
    done = {}
    if tsv.is_file():
        done = {r["path"]: r for r in csv.DictReader(tsv.open(), delimiter="\t")}
    by_stem = {str(Path(f).with_suffix("")): f for f in files}
    for d in map(Path, a.folders):        # a corpus that ships its DNSMOS scores (speechocean762's utterances.tsv)
        meta = d / "utterances.tsv"
        if meta.is_file():
            for r in csv.DictReader(meta.open(), delimiter="\t"):
                f = by_stem.get(str((d / r["file"]).resolve()))
                if f and r.get("dnsmos_bak"):
                    done.setdefault(f, {"path": f, "sig": "", "bak": r["dnsmos_bak"], "ovrl": r["dnsmos_ovrl"]})
    todo = [f for f in files if f not in done]
    metric = DNSMOS()
    tsv.parent.mkdir(parents=True, exist_ok=True)
    new = not tsv.is_file()
    with tsv.open("a", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        if new:
            w.writerow(["path", "sig", "bak", "ovrl"])
        for i, f in enumerate(todo):
            s = metric.score(None, load_mono(f, 16000), 16000)
            row = [f, f"{s['dnsmos_sig']:.3f}", f"{s['dnsmos_bak']:.3f}", f"{s['dnsmos_ovrl']:.3f}"]
            w.writerow(row)
            fh.flush()
            done[f] = dict(zip(["path", "sig", "bak", "ovrl"], row))
            print(f"\r{i + 1}/{len(todo)} scored", end="", file=sys.stderr)
    print(file=sys.stderr)
    by_folder: dict[str, list[float]] = {}
    for f in files:
        top = next(str(Path(d).resolve()) for d in a.folders if f.startswith(str(Path(d).resolve())))
        by_folder.setdefault(top, []).append(float(done[f]["bak"]))
    for d, b in by_folder.items():
        b = np.array(b)
        print(f"{d}: {len(b)} files, BAK median {np.median(b):.2f} (10-90 %: {np.percentile(b, 10):.2f}-"
              f"{np.percentile(b, 90):.2f}), {int((b >= a.min_bak).sum())} with BAK >= {a.min_bak}")
    if a.list:
        out = Path(a.list)
        keep = [f for f in files if float(done[f]["bak"]) >= a.min_bak]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(os.path.relpath(f, out.parent.resolve()) + "\n" for f in keep))
        print(f"wrote {out}: {len(keep)} of {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
