"""The robustness study: every system on every utterance under every condition, measured and cached.

Plan (:func:`plan_study`)
  * Utterances come from one or more set folders (:func:`discover`). A ``transcripts.tsv`` (columns
    ``file``, ``transcript``) gives word references for WER; files in sub-folders ``<set>/<speaker>/...``
    with at least two speakers of two utterances each form a speaker set for verification. Files with
    neither are used (for the signal measures) only from plain sets that have neither.
  * ``quick``: 4 transcribed utterances, 2 test utterances per speaker cropped to 4 s, DNSMOS on 2
    utterances, 5 levels of each kind, 5 linearity gains -- the whole study in about 15 minutes on 2 cores.
  * Speaker sets: a few utterances per speaker are *test* utterances (processed and scored); every
    utterance of the set is also an *enrolment* utterance, embedded clean once. Trials pair each clean
    enrolment utterance with each processed test utterance (never a file with itself); see
    :mod:`voxclean.metrics.downstream.speaker`.
  * Conditions: :func:`voxclean.probe.robustness.sweep`.
  * A unit of work is one (test utterance, condition): the damage is applied once and every system --
    plus the *oracle*, the damaged input itself (seed 003's topline) -- processes it.

Measures of one processed utterance ``y`` against the dry clean utterance ``x`` (after removing any
delay of ``y`` relative to the system's input, within 100 ms): mel distance, wide-band PESQ, STOI,
DNSMOS (on the utterances marked for it), the recogniser's transcript (utterances with a transcript)
and the speaker embedding with its cosine similarity to the clean utterance's (speaker test utterances).
Per (system, condition) the table holds the means, the corpus WER and the EER of the trials.

Parallelism: units run in a ``ProcessPoolExecutor`` (spawned workers, one BLAS/torch/ONNX thread each,
``workers`` defaulting to ``os.cpu_count()``); results are cached per (unit, system) so a re-run or a
study with one more system recomputes only what is new (:mod:`voxclean.probe.cache`).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from voxclean.probe import robustness
from voxclean.probe.cache import Cache, atomic_write_text, file_digest, source_digest
from voxclean.probe.robustness import Condition

SR = 16000
ORACLE = "oracle"
MAX_LAG_S = 0.1


# ---------------------------------------------------------------------------------------------------------
# systems

class Identity:
    """The oracle: the damaged input, not processed."""
    name = ORACLE

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        return np.asarray(x, dtype=np.float32)


def resolve(ref: Any) -> Any:
    """A System from a spec string (through :func:`voxclean.probe.systems.resolve_system`) or as given."""
    if not isinstance(ref, str):
        return ref
    if ref == ORACLE:
        return Identity()
    from voxclean.probe.systems import resolve_system
    return resolve_system(ref)


def system_key(ref: Any, system: Any) -> str:
    """What identifies a system's output in the cache: its spec, or its class, name and ``cache_key``."""
    if isinstance(ref, str):
        return f"spec:{ref}|{getattr(system, 'name', ref)}"
    t = type(system)
    return f"obj:{t.__module__}.{t.__qualname__}|{system.name}|{getattr(system, 'cache_key', '')}"


# ---------------------------------------------------------------------------------------------------------
# the plan

@dataclass(frozen=True)
class Utterance:
    id: str                       # "<set folder name>/<relative path without suffix>"
    path: str
    digest: str
    set: str
    transcript: str | None = None
    speaker: str | None = None    # "<set>/<speaker folder>"
    test: bool = True             # processed under every condition (else enrolment only)
    max_seconds: float | None = None
    dnsmos: bool = False


@dataclass
class StudyConfig:
    sets: list[Path]
    out: Path
    seed: int = 0
    quick: bool = False
    noise_dir: Path | None = None
    rir_dir: Path | None = None
    kinds: tuple[str, ...] = robustness.KINDS
    asr: str | None = "auto"          # recogniser name, "auto" (Whisper if installed, else pocketsphinx), None
    speaker: bool = True              # speaker embeddings, cosine similarity and EER
    dnsmos: bool = True
    workers: int | None = None        # None: os.cpu_count(); 1: in this process
    cache: bool = True
    examples: int = 1                 # utterances whose audio goes into the report, per kind
    linearity: bool = True            # seed 003 Figure 2 (voxclean.probe.linearity)
    freqresp: bool = True             # seed 003 Figure 3 (voxclean.probe.freqresp)
    # how much of each set a study uses (None = all)
    asr_files: int | None = None
    test_per_speaker: int | None = None
    other_files: int | None = None
    dnsmos_files: int | None = None   # utterances scored by DNSMOS (transcribed ones first)
    max_seconds: float | None = None  # crop of test utterances that have no transcript
    max_levels: int | None = None     # levels per kind of damage (None: all of the sweep)
    transcripts: Path | None = None   # a transcripts.tsv whose rows override/extend the sets' own

    def __post_init__(self) -> None:
        self.sets = [Path(s) for s in self.sets]
        self.out = Path(self.out)
        q = self.quick
        self.asr_files = self.asr_files if self.asr_files is not None else (4 if q else None)
        self.test_per_speaker = self.test_per_speaker if self.test_per_speaker is not None else (2 if q else 4)
        self.other_files = self.other_files if self.other_files is not None else (4 if q else None)
        self.dnsmos_files = self.dnsmos_files if self.dnsmos_files is not None else (2 if q else None)
        self.max_seconds = self.max_seconds if self.max_seconds is not None else (4.0 if q else None)


def _read_transcripts(folder: Path, tsv: Path | None = None) -> dict[str, str]:
    tsv = tsv or folder / "transcripts.tsv"
    if not tsv.exists():
        return {}
    with open(tsv, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if rows and not {"file", "transcript"} <= set(rows[0]):
        raise ValueError(f"{tsv}: expected tab-separated columns 'file' and 'transcript', got {list(rows[0])}")
    return {r["file"].strip(): r["transcript"].strip() for r in rows if r.get("file")}


def _pick(items: list, n: int | None, seed: int, tag: str) -> list:
    """``n`` items chosen with a seeded permutation (all when ``n`` is None), in their original order."""
    if n is None or n >= len(items):
        return list(items)
    rng = np.random.default_rng([seed, int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "little")])
    keep = sorted(rng.permutation(len(items))[:n])
    return [items[i] for i in keep]


def discover(cfg: StudyConfig) -> list[Utterance]:
    """The utterances of the study (module docstring); raises if a set folder is missing or empty."""
    from voxclean.audio.io import find_audio
    out: list[Utterance] = []
    for folder in cfg.sets:
        if not folder.is_dir():
            raise FileNotFoundError(f"--set {folder}: no such folder")
        files = find_audio(folder)
        if not files:
            raise ValueError(f"--set {folder}: no audio files found")
        name = folder.resolve().name
        trans = _read_transcripts(folder)
        if cfg.transcripts is not None:
            if not Path(cfg.transcripts).is_file():
                raise FileNotFoundError(f"--transcripts {cfg.transcripts}: no such file")
            extra = _read_transcripts(folder, Path(cfg.transcripts))
            names = {f.relative_to(folder).as_posix() for f in files} | {f.name for f in files}
            trans.update({k: v for k, v in extra.items() if k in names})
        by_spk: dict[str, list[Path]] = {}
        for f in files:
            rel = f.relative_to(folder)
            if len(rel.parts) > 1:
                by_spk.setdefault(rel.parts[0], []).append(f)
        speaker_set = len([s for s in by_spk.values() if len(s) >= 2]) >= 2

        def utt(f: Path, **kw: Any) -> Utterance:
            rel = f.relative_to(folder)
            return Utterance(id=f"{name}/{rel.with_suffix('').as_posix()}", path=str(f),
                             digest=file_digest(str(f)), set=name, **kw)

        asr = [f for f in files if f.relative_to(folder).as_posix() in trans or f.name in trans]
        chosen_asr = set(_pick(asr, cfg.asr_files, cfg.seed, f"asr:{name}"))
        set_utts: list[Utterance] = []
        for f in files:
            rel = f.relative_to(folder)
            text = trans.get(rel.as_posix(), trans.get(f.name))
            spk = f"{name}/{rel.parts[0]}" if speaker_set and len(rel.parts) > 1 else None
            if text is not None:
                if f in chosen_asr:
                    set_utts.append(utt(f, transcript=text, speaker=spk))
            elif spk is None:
                set_utts.append(utt(f, max_seconds=cfg.max_seconds))
        others = [u for u in set_utts if u.transcript is None and u.speaker is None]
        # a set with transcripts or speakers is there for WER/EER: its other files stay out
        keep_others = set() if (trans or speaker_set) else set(_pick(others, cfg.other_files, cfg.seed, f"other:{name}"))
        set_utts = [u for u in set_utts if u.transcript is not None or u in keep_others]
        if speaker_set:
            for spk, spk_files in sorted(by_spk.items()):
                tests = set(_pick(sorted(spk_files), cfg.test_per_speaker, cfg.seed, f"spk:{name}/{spk}"))
                for f in sorted(spk_files):
                    rel = f.relative_to(folder)
                    if trans.get(rel.as_posix(), trans.get(f.name)) is not None:
                        continue  # already in as an ASR utterance
                    set_utts.append(utt(f, speaker=f"{name}/{spk}", test=f in tests, max_seconds=cfg.max_seconds))
        out += set_utts
    if not cfg.dnsmos:
        return out
    # DNSMOS scores 9 s windows hopped by 1 s (a short clip is looped to fill one), so its cost grows with
    # the length: a capped study scores the short transcribed utterances first.
    short = [u for u in out if u.test and u.transcript is not None]
    rest = [u for u in out if u.test and u.transcript is None]
    mos = _pick(short, cfg.dnsmos_files, cfg.seed, "dnsmos")
    if cfg.dnsmos_files is None or len(mos) < cfg.dnsmos_files:
        mos += _pick(rest, None if cfg.dnsmos_files is None else cfg.dnsmos_files - len(mos), cfg.seed, "dnsmos2")
    ids = {u.id for u in mos}
    return [replace(u, dnsmos=u.id in ids) for u in out]


@functools.lru_cache(maxsize=64)
def load_utterance(path: str, max_seconds: float | None, sr: int = SR) -> np.ndarray:
    """Mono float32 at ``sr``, cropped to ``max_seconds``; read-only and memoised."""
    from voxclean.audio.io import load
    x, _ = load(path, sr=sr, channels="downmix")
    if max_seconds is not None:
        x = x[: int(round(max_seconds * sr))]
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.flags.writeable = False
    return x


# ---------------------------------------------------------------------------------------------------------
# workers

@dataclass(frozen=True)
class Unit:
    utt: Utterance
    cond: Condition
    systems: tuple[Any, ...]          # spec strings or System objects (picklable)
    seed: int
    asr: str | None
    speaker: bool
    cache_dir: str | None
    example_dir: str | None = None    # write clean/damaged/processed audio here


_worker_state: dict[str, Any] = {}


def init_worker() -> None:
    """One thread per worker for BLAS, OpenMP, torch and ONNX Runtime (set before they are imported)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    from threadpoolctl import threadpool_limits
    _worker_state["limits"] = threadpool_limits(1)
    _worker_state["is_worker"] = True


def _torch_one_thread() -> None:
    if not _worker_state.get("is_worker"):
        return  # in the caller's own process, leave torch's thread pool alone
    import torch
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _recognizer(name: str) -> Any:
    key = f"asr:{name}"
    if key not in _worker_state:
        from voxclean.metrics.downstream.asr import RECOGNIZERS
        _worker_state[key] = RECOGNIZERS.get(name)
    return _worker_state[key]


def _asr_tag(name: str | None) -> str | None:
    """Recogniser name and decoding version, for cache keys."""
    if not name:
        return None
    from voxclean.metrics.downstream.asr import RECOGNIZERS
    factory = next((e.factory for e in RECOGNIZERS.entries() if e.name == name), None)
    return f"{name}|{getattr(factory, 'version', '')}"


def _encoder() -> Any:
    if "encoder" not in _worker_state:
        from voxclean.metrics.downstream.speaker import speaker_encoder
        _torch_one_thread()
        _worker_state["encoder"] = speaker_encoder()
    return _worker_state["encoder"]


def _system(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    key = f"sys:{ref}"
    if key not in _worker_state:
        _worker_state[key] = resolve(ref)
    return _worker_state[key]


def _cond_key(cond: Condition) -> dict:
    return {"cond": cond.key, "source": source_digest(cond.source)}


def _utt_key(utt: Utterance) -> dict:
    return {"digest": utt.digest, "crop": utt.max_seconds, "sr": SR}


def embed_clean(utt: Utterance, cache_dir: str | None) -> list[float]:
    """Clean speaker embedding of an utterance (cached)."""
    cache = Cache(cache_dir)
    key = {"what": "clean-embedding", **_utt_key(utt)}
    hit = cache.get(key)
    if hit is not None:
        return hit["embedding"]
    e = _encoder().embed(load_utterance(utt.path, utt.max_seconds), SR)
    value = {"embedding": [float(v) for v in e]}
    cache.put(key, value)
    return value["embedding"]


def measure(x: np.ndarray, y_in: np.ndarray, y: np.ndarray, utt: Utterance, asr: str | None,
            speaker: bool, clean_embedding: list[float] | None) -> dict[str, Any]:
    """All measures of one processed utterance (module docstring)."""
    from voxclean.metrics import align_delay, score_pair
    from voxclean.metrics.downstream.mel import mel_distance
    from voxclean.metrics.downstream.speaker import cosine
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(y)):
        raise ValueError("system output contains NaN or infinite samples")
    y, lag = align_delay(y_in, y, SR, MAX_LAG_S)
    row: dict[str, Any] = {"lag": lag, "mel": mel_distance(x, y, SR)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row.update(score_pair(x, y, SR, ["pesq_wb", "stoi"] + (["dnsmos"] if utt.dnsmos else [])))
    if asr and utt.transcript is not None:
        row["transcript"] = _recognizer(asr).transcribe(y, SR)
    if speaker and utt.speaker is not None and clean_embedding is not None:
        e = _encoder().embed(y, SR) if np.any(y) else np.zeros(len(clean_embedding), np.float32)
        row["embedding"] = [float(v) for v in e]
        row["cos_clean"] = cosine(e, clean_embedding)
    return row


def run_unit(unit: Unit) -> list[dict[str, Any]]:
    """Rows (one per system, the oracle first) of one utterance under one condition."""
    utt, cond = unit.utt, unit.cond
    cache = Cache(unit.cache_dir)
    seed = robustness.condition_seed(unit.seed, utt.id, cond.kind)
    base = {"utt": utt.id, "kind": cond.kind, "level": cond.level, "cond": cond.key, "label": cond.label}
    refs = (ORACLE, *unit.systems)
    rows: list[dict[str, Any] | None] = []
    keys = []
    for ref in refs:
        system = _system(ref)
        k = {"what": "row", **_utt_key(utt), **_cond_key(cond), "seed": seed, "system": system_key(ref, system),
             "asr": _asr_tag(unit.asr) if utt.transcript is not None else None,
             "speaker": unit.speaker and utt.speaker is not None, "dnsmos": utt.dnsmos}
        keys.append(k)
        rows.append(cache.get(k))
    ex_dir = Path(unit.example_dir) if unit.example_dir else None
    need_audio = ex_dir is not None and not all((ex_dir / f"{_safe(_system(r).name)}.wav").exists() for r in refs)
    if all(r is not None for r in rows) and not need_audio:
        return [r for r in rows if r is not None]
    x = load_utterance(utt.path, utt.max_seconds)
    y_in, record = robustness.degrade(cond, x, SR, seed)
    if "scaled_by" in record:  # a mixture that would clip was scaled down: so is the reference it is scored against
        x = (x * np.float32(record["scaled_by"])).astype(np.float32)
    clean_e = embed_clean(utt, unit.cache_dir) if unit.speaker and utt.speaker is not None else None
    if ex_dir is not None:
        from voxclean.audio.io import save
        save(ex_dir / "clean.wav", x, SR)
    for i, ref in enumerate(refs):
        system = _system(ref)
        if rows[i] is not None and not need_audio:
            continue
        t0 = time.perf_counter()
        try:
            y = np.asarray(system.process(y_in.copy(), SR), dtype=np.float32).reshape(-1)
            t_proc = time.perf_counter() - t0
            if ex_dir is not None:
                from voxclean.audio.io import save
                from voxclean.metrics import align_delay
                save(ex_dir / f"{_safe(system.name)}.wav", align_delay(y_in, y, SR, MAX_LAG_S)[0], SR)
            if rows[i] is not None:
                continue
            row = {**base, "system": system.name, **measure(x, y_in, y, utt, unit.asr, unit.speaker, clean_e),
                   "process_s": round(t_proc, 4), "degradation": record}
        except Exception as exc:  # one failure must not sink the study; it is reported at the end
            row = {**base, "system": getattr(system, "name", str(ref)), "error": f"{type(exc).__name__}: {exc}"}
            rows[i] = row
            continue
        cache.put(keys[i], row)
        rows[i] = row
    return [r for r in rows if r is not None]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# ---------------------------------------------------------------------------------------------------------
# Figures 2-3: linearity and frequency response of each system (voxclean.probe.linearity / .freqresp)

LINEARITY_GAINS_QUICK = (-30.0, -18.0, -6.0, 0.0, 6.0)
LINEARITY_SECONDS = 3.0


def linearity_inputs(utts: list[Utterance], noise_dir: Path | None) -> tuple[list[tuple[str, float]], tuple[str, float] | None]:
    """Two test utterances (transcribed ones first) and one noise recording, 3 s each, for the linearity probe."""
    pool = [u for u in utts if u.test and u.transcript is not None] + [u for u in utts if u.test and u.transcript is None]
    speech = [(u.path, LINEARITY_SECONDS) for u in pool[:2]]
    noise = None
    if noise_dir is not None:  # the recording whose first 3 s are the most continuously active
        from voxclean.audio.io import find_audio
        from voxclean.degrade.noise import activity_mask
        files = find_audio(noise_dir)
        if files:
            active = [float(activity_mask(load_utterance(str(f), LINEARITY_SECONDS), SR, 20.0).mean()) for f in files]
            noise = (str(files[int(np.argmax(active))]), LINEARITY_SECONDS)
    return speech, noise


def linearity_task(ref: Any, speech: list[tuple[str, float]], noise: tuple[str, float] | None,
                   gains_db: tuple[float, ...] | None, cache_dir: str | None) -> dict:
    """:func:`voxclean.probe.linearity.probe_system` of one system (cached)."""
    from voxclean.probe import linearity
    system = _system(ref)
    gains = tuple(gains_db) if gains_db is not None else linearity.GAINS_DB
    key = {"what": "linearity", "system": system_key(ref, system), "gains": list(gains),
           "speech": [(file_digest(p), m) for p, m in speech], "noise": noise and (file_digest(noise[0]), noise[1])}
    cache = Cache(cache_dir)
    hit = cache.get(key)
    if hit is not None:
        return hit
    xs = [load_utterance(p, m) for p, m in speech]
    ns = [load_utterance(noise[0], noise[1])] if noise else []
    res = linearity.probe_system(system, xs, SR, ns, gains)
    res = _clean_json(res)
    cache.put(key, res)
    return res


def freqresp_task(ref: Any, cache_dir: str | None) -> dict:
    """:func:`voxclean.probe.freqresp.measure` of one system at the default levels (cached)."""
    from voxclean.probe import freqresp
    system = _system(ref)
    key = {"what": "freqresp", "system": system_key(ref, system), "levels": list(freqresp.LEVELS_DBFS), "sr": SR}
    cache = Cache(cache_dir)
    hit = cache.get(key)
    if hit is not None:
        return hit
    res = _clean_json(freqresp.measure(system, SR))
    cache.put(key, res)
    return res


# ---------------------------------------------------------------------------------------------------------
# aggregation

TABLE_METRICS = ("mel", "pesq_wb", "stoi", "dnsmos_ovrl", "wer", "eer", "cos_clean")
LOWER_IS_BETTER = {"mel", "wer", "eer"}


def _mean(values: Iterable[float]) -> float:
    v = [float(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else float("nan")


def aggregate(rows: list[dict], utts: list[Utterance], enroll: dict[str, list[float]],
              systems: list[str], conds: list[Condition]) -> list[dict]:
    """One table row per (system, condition): means, corpus WER, EER and counts."""
    from voxclean.metrics.downstream.asr import WordErrors, word_errors
    from voxclean.metrics.downstream.speaker import build_trials, cosine, eer
    by_id = {u.id: u for u in utts}
    index: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if "error" not in r:
            index.setdefault((r["system"], r["cond"]), []).append(r)
    enroll_utts = [u for u in utts if u.speaker is not None and u.id in enroll]
    table = []
    for s in systems:
        for c in conds:
            rs = index.get((s, c.key), [])
            out: dict[str, Any] = {"system": s, "kind": c.kind, "level": c.level, "label": c.label,
                                   "cond": c.key, "n": len(rs)}
            for m in ("mel", "pesq_wb", "stoi", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "cos_clean"):
                out[m] = _mean(r.get(m) for r in rs)
            asr_rows = [r for r in rs if "transcript" in r]
            if asr_rows:
                total = WordErrors(0, 0, 0, 0)
                for r in asr_rows:
                    total = total + word_errors(by_id[r["utt"]].transcript, r["transcript"])
                out["wer"] = total.wer
                out["wer_words"] = total.n_ref
            else:
                out["wer"] = float("nan")
            spk_rows = [r for r in rs if "embedding" in r]
            out["eer"] = float("nan")
            if spk_rows and enroll_utts:
                scores, labels = [], []
                for set_name in sorted({by_id[r["utt"]].set for r in spk_rows}):
                    en = [u for u in enroll_utts if u.set == set_name]
                    te = [r for r in spk_rows if by_id[r["utt"]].set == set_name]
                    trials = build_trials([(u.id, u.speaker) for u in en], [(r["utt"], by_id[r["utt"]].speaker) for r in te])
                    for i, j, tgt in trials:
                        scores.append(cosine(enroll[en[i].id], te[j]["embedding"]))
                        labels.append(tgt)
                if any(labels) and not all(labels):
                    out["eer"] = eer(scores, labels)
                    out["trials"] = len(labels)
                    out["target_trials"] = int(sum(labels))
            table.append(out)
    return table


# ---------------------------------------------------------------------------------------------------------
# the study

@dataclass
class StudyResult:
    config: dict
    systems: list[str]
    conditions: list[Condition]
    utterances: list[Utterance]
    rows: list[dict]
    table: list[dict]
    asr: str | None
    errors: list[dict] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)   # condition key -> example folder
    seconds: float = 0.0
    linearity: dict | None = None      # voxclean.probe.linearity.probe() layout
    freqresp: list[dict] = field(default_factory=list)


def _resolve_asr(name: str | None) -> str | None:
    from voxclean.metrics.downstream.asr import RECOGNIZERS, available_recognizers, default_recognizer
    if name is None or name == "none":
        return None
    if name == "auto":
        return default_recognizer()
    if name not in RECOGNIZERS:
        raise ValueError(f"unknown recogniser {name!r}; available: {', '.join(RECOGNIZERS.names())}")
    if name not in available_recognizers():
        raise ValueError(f"recogniser {name!r} is not installed here; installed: "
                         f"{', '.join(available_recognizers()) or 'none'}")
    return name


def example_units(utts: list[Utterance], conds: list[Condition], n: int) -> dict[tuple[str, str], str]:
    """(utterance id, condition key) -> example folder name: the ``n`` shortest transcribed test utterances
    (else any test utterances; short keeps the self-contained report small), under clean and the middle
    level of each kind."""
    if n <= 0:
        return {}
    from voxclean.audio.io import info
    pool = [u for u in utts if u.test and u.transcript is not None] or [u for u in utts if u.test]
    chosen = sorted(pool, key=lambda u: (info(u.path).duration, u.id))[:n]
    picks = [c for c in conds if c.kind == "clean"]
    for kind in robustness.KINDS:
        levels = [c for c in conds if c.kind == kind]
        if levels:
            picks.append(levels[len(levels) // 2])
    return {(u.id, c.key): f"{_safe(u.id)}/{_safe(c.key)}" for u in chosen for c in picks}


def run_study(systems: Sequence[Any], cfg: StudyConfig,
              progress: Callable[[int, int], None] | None = None) -> StudyResult:
    """Run (or read back from the cache) the whole study; see the module docstring."""
    t0 = time.perf_counter()
    asr = _resolve_asr(cfg.asr)
    if cfg.speaker:
        import importlib.util
        if importlib.util.find_spec("resemblyzer") is None:
            warnings.warn("speaker similarity and EER left out: resemblyzer is not installed "
                          "(pip install 'voxclean[probe]')", RuntimeWarning, stacklevel=2)
            cfg = replace(cfg, speaker=False)
    resolved = [resolve(s) for s in systems]      # fail on a bad spec before any work starts
    names = [ORACLE] + [s.name for s in resolved]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"system names must be distinct; repeated: {', '.join(sorted(dup))}")
    utts = discover(cfg)
    conds = robustness.sweep(cfg.quick, cfg.noise_dir, cfg.rir_dir, tuple(cfg.kinds), SR, cfg.max_levels)
    cache_dir = str(cfg.out / ".cache") if cfg.cache else None
    ex = example_units(utts, conds, cfg.examples)
    ex_root = cfg.out / "examples"
    units = [Unit(u, c, tuple(systems), cfg.seed, asr, cfg.speaker, cache_dir,
                  str(ex_root / ex[(u.id, c.key)]) if (u.id, c.key) in ex else None)
             for u in utts if u.test for c in conds]
    enroll_utts = [u for u in utts if u.speaker is not None] if cfg.speaker else []
    lin_in = linearity_inputs(utts, cfg.noise_dir) if cfg.linearity else ([], None)
    gains = LINEARITY_GAINS_QUICK if cfg.quick else None
    extra: list[tuple[str, Any, Callable, tuple]] = []
    if cfg.linearity and lin_in[0]:
        extra += [("linearity", ref, linearity_task, (ref, lin_in[0], lin_in[1], gains, cache_dir)) for ref in systems]
    if cfg.freqresp:
        extra += [("freqresp", ref, freqresp_task, (ref, cache_dir)) for ref in systems]
    total = len(units) + len(enroll_utts) + len(extra)
    done = 0
    rows: list[dict] = []
    enroll: dict[str, list[float]] = {}
    lin_rows: dict[int, dict] = {}
    fr_rows: dict[int, dict] = {}
    failures: list[dict] = []

    def collect(kind: str, tag: Any, fn: Callable[[], Any]) -> None:
        nonlocal done
        try:
            value = fn()
        except Exception as exc:
            if kind in ("linearity", "freqresp"):
                failures.append({"system": str(tag[1] if isinstance(tag, tuple) else tag), "utt": "-",
                                 "label": kind, "error": f"{type(exc).__name__}: {exc}"})
                value = None
            else:
                raise
        if kind == "enroll":
            enroll[tag] = value
        elif kind == "unit":
            rows.extend(value)
        elif value is not None:
            (lin_rows if kind == "linearity" else fr_rows)[tag[0]] = value
        done += 1
        if progress:
            progress(done, total)

    workers = cfg.workers or os.cpu_count() or 1
    if workers == 1:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for u in enroll_utts:
                collect("enroll", u.id, lambda u=u: embed_clean(u, cache_dir))
            for unit in units:
                collect("unit", None, lambda unit=unit: run_unit(unit))
            for i, (kind, ref, fn, args) in enumerate(extra):
                collect(kind, (i, ref), lambda fn=fn, args=args: fn(*args))
    else:
        import multiprocessing as mp
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=init_worker) as pool:
            futs = {pool.submit(fn, *args): (kind, (i, ref)) for i, (kind, ref, fn, args) in enumerate(extra)}
            futs.update({pool.submit(embed_clean, u, cache_dir): ("enroll", u.id) for u in enroll_utts})
            futs.update({pool.submit(run_unit, unit): ("unit", None) for unit in units})
            for fut in as_completed(futs):
                kind, tag = futs[fut]
                collect(kind, tag, fut.result)
    order = {n: i for i, n in enumerate(names)}
    cond_order = {c.key: i for i, c in enumerate(conds)}
    rows.sort(key=lambda r: (order.get(r["system"], 99), cond_order.get(r["cond"], 99), r["utt"]))
    errors = [r for r in rows if "error" in r] + failures
    table = aggregate(rows, utts, enroll, names, conds)
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    cfg_dict["sets"] = [str(s) for s in cfg.sets]
    cfg_dict["systems"] = [s if isinstance(s, str) else getattr(s, "name", repr(s)) for s in systems]
    examples = {key: str(ex_root / folder) for (uid, key), folder in ex.items()}
    linearity = None
    if lin_rows:
        from voxclean.probe import linearity as lin
        linearity = {"sr": SR, "snr_db": 0.0, "n_speech": len(lin_in[0]), "n_noise": int(lin_in[1] is not None),
                     "max_db": lin.MAX_DB, "systems": [lin_rows[i] for i in sorted(lin_rows)]}
    return StudyResult(cfg_dict, names, conds, utts, rows, table, asr, errors, examples,
                       time.perf_counter() - t0, linearity, [fr_rows[i] for i in sorted(fr_rows)])


# ---------------------------------------------------------------------------------------------------------
# outputs

def _clean_json(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, dict):
        return {k: _clean_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean_json(x) for x in v]
    if isinstance(v, np.generic):
        return _clean_json(v.item())
    return v


def write_outputs(res: StudyResult, out: Path) -> dict[str, Path]:
    """``results.json`` (everything but embeddings), ``results.csv`` (the table), ``items.csv`` (per
    utterance); all written atomically. NaN becomes null in JSON and an empty cell in CSV."""
    import json
    from voxclean.metrics.downstream.emotion import emotion_status
    out.mkdir(parents=True, exist_ok=True)
    items = [{k: v for k, v in r.items() if k not in ("embedding", "degradation")} for r in res.rows]
    doc = {"config": res.config, "asr": res.asr, "systems": res.systems,
           "conditions": [c.to_dict() for c in res.conditions],
           "utterances": [asdict(u) for u in res.utterances], "table": res.table, "items": items,
           "errors": res.errors, "emotion": emotion_status(), "seconds": round(res.seconds, 1)}
    paths = {"json": out / "results.json", "csv": out / "results.csv", "items": out / "items.csv"}
    atomic_write_text(paths["json"], json.dumps(_clean_json(doc), indent=1))
    atomic_write_text(paths["csv"], _csv(res.table))
    atomic_write_text(paths["items"], _csv(items))
    return paths


def _csv(rows: list[dict]) -> str:
    import io
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                        (f"{v:.6g}" if isinstance(v, float) else v)) for k, v in r.items()})
    return buf.getvalue()
