"""Training loop for :class:`NeuralSE`: YAML/TOML config, seeded on-the-fly data, resumable checkpoints,
a CSV log, validation with WB-PESQ and STOI on fixed development mixtures after every epoch.

Config (see ``configs/neural_small.yaml``)::

    model: {erb_bands, hidden, layers, df_bins, df_order, pre_wiener_db, noise_features}
                                                                      -> ModelConfig (arch "erbdf")
           or {arch: unet | convtasnet | dccrn, ...arguments}         -> voxclean.enhance.neural.arch
    data:  {speech: [dirs], noise: [dirs], rir: [dirs], and any MixtureSampler keyword: snr, level_db,
            segment_s, n_sim_rooms and the p_* probabilities}                            -> MixtureSampler
    train: {out, seed, batch, epochs, steps_per_epoch, lr, lr_min, grad_clip, threads,
            w_spec, w_sisdr, w_vad, w_os (over-suppression loss), w_stoi (STOI surrogate), w_pmsqe (PESQ-derived
            PMSQE loss), w_rn (residual-noise loss; NeuralSE only), max_minutes,
            init (checkpoint whose weights start a new run), device (cpu | cuda | auto; default cpu),
            workers (processes that build batches ahead; default 0 = in the training loop),
            teacher (a cache from ``scripts/make_teacher_cache.py``: training mixtures with a teacher
            enhancer's output), w_teacher, teacher_every (every k-th step, default 2, is a cache batch whose
            loss adds w_teacher * L_spec(enhanced, teacher output) over the examples where the teacher's
            SI-SDR is at most teacher_margin_db (default 3) below the noisy input's: knowledge distillation,
            Hinton et al. 2015, on the compressed spectral loss of ``losses.py``; see ``teacher_loss``),
            keep_epochs (also write epoch_NNN.pt, model only, after every epoch),
            schedule_minutes (the cosine runs over this many minutes of training instead of over
            epochs * steps_per_epoch steps: for a fixed time budget on hardware of unknown speed)}
    valid: {dir: paired folder (manifest.jsonl, clean/, noisy/), n: pairs}

Relative paths are taken from the current directory. ``out`` holds ``last.pt`` (model, optimiser,
step; written atomically every epoch and when stopped by ``max_minutes`` or SIGINT/SIGTERM, which
finish the current step, validate and save), ``best.pt`` (best validation WB-PESQ) and
``log.csv``; the model weights in every checkpoint are CPU tensors, whatever ``device`` trained them
(a ``last.pt`` from a GPU resumes on a CPU and the other way round). Running again
with the same ``out`` resumes from ``last.pt``; the data of step ``s`` depends only on ``(seed, s)``
so a resumed run continues the same sequence. The learning rate follows a cosine from ``lr`` to
``lr_min`` over ``epochs * steps_per_epoch`` steps, or over ``schedule_minutes`` of training when set
(AdamW).
"""
from __future__ import annotations

import csv
import inspect
import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from voxclean.enhance.neural.data import MixtureSampler
from voxclean.enhance.neural.losses import si_sdr, spectral_loss, total_loss
from voxclean.enhance.neural.model import ModelConfig, NeuralSE, enhance_batch

LOG_FIELDS = ["epoch", "step", "train_loss", "train_spec", "train_si_sdr", "val_pesq_wb", "val_stoi",
              "val_noisy_pesq_wb", "val_noisy_stoi", "lr", "minutes"]


def build_model(mcfg: dict | None):
    """``model`` section -> module: ``arch`` "erbdf" (default, :class:`NeuralSE`) or one of
    :data:`voxclean.enhance.neural.arch.ARCHS`; the other keys are the architecture's arguments."""
    mcfg = dict(mcfg or {})
    arch = mcfg.pop("arch", "erbdf")
    if arch == "erbdf":
        return NeuralSE(ModelConfig(**mcfg))
    from voxclean.enhance.neural.arch import build
    return build(arch, **mcfg)


def model_config(model, mcfg: dict | None) -> dict:
    return model.cfg.to_dict() if isinstance(model, NeuralSE) else dict(mcfg or {})


def forward_wave(model, x: torch.Tensor):
    """(enhanced (B, L), VAD (B, T) or None) for a batch of waveforms, whatever the architecture."""
    return enhance_batch(model, x) if isinstance(model, NeuralSE) else model.forward_wave(x)


def load_config(path: str | os.PathLike) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such config file")
    text = p.read_text()
    if p.suffix == ".toml":
        import tomllib
        cfg = tomllib.loads(text)
    else:
        import yaml
        cfg = yaml.safe_load(text)
    if not isinstance(cfg, dict) or "train" not in cfg or "data" not in cfg:
        raise ValueError(f"{p}: a training config needs 'data' and 'train' sections")
    return cfg


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_valid(folder: str | os.PathLike, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from voxclean.audio.io import load
    from voxclean.degrade.mix import read_manifest
    folder = Path(folder)
    pairs = []
    for line in read_manifest(folder / "manifest.jsonl")[:n]:
        clean, sr = load(folder / line["clean"], sr=16000, channels="downmix")
        noisy, _ = load(folder / line["noisy"], sr=16000, channels="downmix")
        pairs.append((clean, noisy))
    return pairs


@torch.no_grad()
def validate(model, pairs, noisy_too: bool = False) -> dict[str, float]:
    from voxclean.metrics import score_pair
    model.eval()
    res, base = [], []
    dev = next(model.parameters()).device
    for clean, noisy in pairs:
        y, _ = forward_wave(model, torch.from_numpy(noisy)[None].to(dev))
        res.append(score_pair(clean, y[0].cpu().numpy(), 16000, metrics=["pesq_wb", "stoi"]))
        if noisy_too:
            base.append(score_pair(clean, noisy, 16000, metrics=["pesq_wb", "stoi"]))
    model.train()
    out = {"val_pesq_wb": float(np.mean([r["pesq_wb"] for r in res])),
           "val_stoi": float(np.mean([r["stoi"] for r in res]))}
    if noisy_too:
        out.update(val_noisy_pesq_wb=float(np.mean([r["pesq_wb"] for r in base])),
                   val_noisy_stoi=float(np.mean([r["stoi"] for r in base])))
    return out


class _StepBatches(torch.utils.data.Dataset):
    """Item ``k`` = the batch of step ``first + k``, so DataLoader workers build batches ahead while the
    order, and therefore the run, stays the same as without workers."""

    def __init__(self, sampler: MixtureSampler, first: int, last: int, size: int):
        self.sampler, self.first, self.last, self.size = sampler, first, last, size

    def __len__(self) -> int:
        return max(self.last - self.first, 0)

    def __getitem__(self, k: int):
        return self.sampler.batch(self.first + k, self.size)


def _batches(sampler: MixtureSampler, first: int, last: int, size: int, workers: int):
    """Iterator over (noisy, target) numpy batches of steps first, first+1, ... (workers > 0: built in
    that many processes, four batches ahead each; the audio is decoded once here, before they fork)."""
    if workers <= 0:
        return (sampler.batch(s, size) for s in range(first, last))
    sampler.preload()
    loader = torch.utils.data.DataLoader(_StepBatches(sampler, first, last, size), batch_size=None,
                                         shuffle=False, num_workers=workers, prefetch_factor=4,
                                         worker_init_fn=_ignore_stop_signals)
    return iter(loader)


def _ignore_stop_signals(_worker: int) -> None:
    """Ctrl-C (or a SIGTERM to the process group) reaches the batch workers too; they leave it to the
    training process, which finishes its step, validates and saves before the workers are shut down."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def load_init(model, state: dict) -> None:
    """Start ``model`` from another checkpoint's weights. A weight matrix with the same rows and fewer
    columns (an input layer before new input features were added, e.g. ``noise_features``) fills the
    leading columns and the new ones start at zero, so the model starts as the old one did."""
    own = model.state_dict()
    for key, value in state.items():
        mine = own.get(key)
        if mine is not None and value.ndim == 2 and mine.ndim == 2 and value.shape[0] == mine.shape[0] \
                and value.shape[1] < mine.shape[1]:
            state[key] = torch.cat([value, value.new_zeros(mine.shape[0], mine.shape[1] - value.shape[1])], 1)
    model.load_state_dict(state)


def _cpu_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no GPU; use 'cpu' or 'auto'")
    return torch.device(name)


def teacher_loss(y: torch.Tensor, taught: torch.Tensor, s: torch.Tensor, x: torch.Tensor,
                 margin_db: float = 3.0) -> torch.Tensor:
    """L_spec(y, teacher output) over the examples the teacher did not damage: those whose SI-SDR (against
    the clean target s) is at most ``margin_db`` below the noisy input's. A teacher that deletes faint
    speech under loud noise would otherwise teach the student to delete it too. Zero when none qualify."""
    keep = si_sdr(taught, s) >= si_sdr(x, s) - margin_db
    if not bool(keep.any()):
        return y.new_zeros(())
    return spectral_loss(y[keep], taught[keep])


def _teacher_cache(tc: dict) -> tuple[dict | None, int]:
    """(``train.teacher`` cache as arrays or None, ``teacher_every``)."""
    every = int(tc.get("teacher_every", 2))
    if not tc.get("teacher"):
        return None, every
    if every < 1:
        raise ValueError("train.teacher_every must be at least 1")
    path = Path(tc["teacher"])
    if not path.is_file():
        raise FileNotFoundError(f"train.teacher: no cache at {path} (build it with scripts/make_teacher_cache.py)")
    with np.load(path) as z:
        cache = {k: z[k] for k in ("noisy", "target", "teacher")}
    if not (cache["noisy"].shape == cache["target"].shape == cache["teacher"].shape) or cache["noisy"].ndim != 3:
        raise ValueError(f"{path}: noisy, target and teacher must all be (batches, batch, samples)")
    return cache, every


def make_sampler(dc: dict, seed: int) -> MixtureSampler:
    """The config's ``data`` section as a :class:`MixtureSampler`: ``speech``, ``noise`` and ``rir`` are its
    folders, every other key one of its keyword arguments (their defaults apply when a key is absent)."""
    known = set(inspect.signature(MixtureSampler).parameters) - {"speech", "noise", "rir", "seed"}
    opts = {k: v for k, v in dc.items() if k not in ("speech", "noise", "rir")}
    unknown = sorted(set(opts) - known)
    if unknown:
        raise ValueError(f"train config: unknown data key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return MixtureSampler(dc["speech"], dc["noise"], dc.get("rir"), seed=seed, **opts)


def train(config: str | os.PathLike | dict, out: str | os.PathLike | None = None, threads: int | None = None,
          max_steps: int | None = None, progress: Callable[[dict], None] | None = None) -> Path:
    """Run (or resume) training; returns the output folder. ``max_steps`` stops early (tests)."""
    cfg = load_config(config) if not isinstance(config, dict) else config
    tc, dc, vc = cfg["train"], cfg["data"], cfg.get("valid", {})
    out = Path(out or tc.get("out", "out/train_neural"))
    last = out / "last.pt"
    if tc.get("init") and not last.exists() and not Path(tc["init"]).is_file():
        raise FileNotFoundError(f"train.init: no checkpoint at {tc['init']}. Weights that have left the package "
                                "can be restored from git history (voxclean/enhance/neural/weights/README.md).")
    teacher, every = _teacher_cache(tc)   # a missing or malformed cache fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(threads or tc.get("threads", 1)))
    seed = int(tc.get("seed", 0))
    torch.manual_seed(seed)
    dev = _device(str(tc.get("device", "cpu")))
    model = build_model(cfg.get("model")).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tc.get("lr", 1e-3)), weight_decay=1e-4)
    step, epoch, best, minutes0 = 0, 0, -math.inf, 0.0
    if tc.get("init") and not last.exists():   # fine-tuning: start from another checkpoint's weights
        load_init(model, torch.load(tc["init"], map_location="cpu", weights_only=False)["model"])
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, epoch, best, minutes0 = ck["step"], ck["epoch"], ck["best"], ck.get("minutes", 0.0)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    sampler = make_sampler(dc, seed)
    valid = load_valid(vc["dir"], int(vc.get("n", 20))) if vc.get("dir") and Path(vc["dir"]).exists() else []
    spe, epochs = int(tc.get("steps_per_epoch", 500)), int(tc.get("epochs", 10))
    total_steps = spe * epochs
    lr0, lr_min = float(tc.get("lr", 1e-3)), float(tc.get("lr_min", 1e-4))
    max_minutes = float(tc.get("max_minutes", 0)) or math.inf
    schedule_minutes = float(tc.get("schedule_minutes", 0))
    weights = {k: float(tc[k]) for k in ("w_spec", "w_sisdr", "w_vad", "w_os", "w_stoi", "w_pmsqe", "w_rn") if k in tc}
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    batch_size, workers = int(tc.get("batch", 8)), int(tc.get("workers", 0))
    w_teacher, margin_db = float(tc.get("w_teacher", 0.0)), float(tc.get("teacher_margin_db", 3.0))
    fly = (lambda k: k - k // every) if teacher else (lambda k: k)   # on-the-fly batches before step k
    batches = _batches(sampler, fly(step), total_steps, batch_size, workers)
    t0 = time.time()
    stop = False
    interrupted = []

    def _on_signal(signum, frame):  # finish the step, validate, save, then return
        interrupted.append(signum)

    import signal
    old = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    with open(log_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
        if new_log:
            writer.writeheader()
        model.train()
        while step < total_steps and not stop:
            acc, n_acc = {"loss": 0.0, "spec": 0.0, "si_sdr": 0.0}, 0
            while True:
                done = (minutes0 + (time.time() - t0) / 60) / schedule_minutes if schedule_minutes \
                    else step / total_steps
                lr = lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * min(done, 1.0)))
                for g in opt.param_groups:
                    g["lr"] = lr
                taught = None
                if teacher and step % every == every - 1:
                    k = (step // every) % len(teacher["noisy"])
                    noisy, target, taught = teacher["noisy"][k], teacher["target"][k], teacher["teacher"][k]
                    taught = torch.as_tensor(taught).to(dev)
                else:
                    noisy, target = next(batches)
                x, s = torch.as_tensor(noisy).to(dev), torch.as_tensor(target).to(dev)
                if weights.get("w_rn"):
                    if not isinstance(model, NeuralSE):
                        raise ValueError("train.w_rn (residual-noise loss) needs the NeuralSE model")
                    y, vad, y_noise = enhance_batch(model, x, part=x - s)
                else:
                    (y, vad), y_noise = forward_wave(model, x), None
                loss, parts = total_loss(y, s, vad, **weights, y_noise=y_noise)
                if taught is not None and w_teacher:
                    loss = loss + w_teacher * teacher_loss(y, taught, s, x, margin_db)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(tc.get("grad_clip", 1.0)))
                opt.step()
                step += 1
                acc["loss"] += loss.item(); acc["spec"] += parts["spec"]; acc["si_sdr"] += parts["si_sdr"]
                n_acc += 1
                minutes = minutes0 + (time.time() - t0) / 60
                if progress:
                    progress({"step": step, "total": total_steps, "loss": loss.item(), **parts, "lr": lr})
                stop = (max_steps is not None and step >= max_steps) or minutes >= max_minutes or bool(interrupted)
                if step % spe == 0 or stop or step >= total_steps:
                    break
            epoch += 1
            row = {"epoch": epoch, "step": step, "train_loss": acc["loss"] / n_acc,
                   "train_spec": acc["spec"] / n_acc, "train_si_sdr": acc["si_sdr"] / n_acc, "lr": lr,
                   "minutes": round(minutes, 2)}
            if valid:
                row.update(validate(model, valid, noisy_too=(epoch == 1)))
            writer.writerow(row)
            fh.flush()
            if progress:
                progress({"epoch_done": row})
            state = {"model": _cpu_state(model), "model_config": model_config(model, cfg.get("model")), "optimizer": opt.state_dict(),
                     "step": step, "epoch": epoch, "best": best, "minutes": minutes, "config": cfg}
            score = row.get("val_pesq_wb", -row["train_loss"])
            if score > best:
                best = state["best"] = score
                _save_atomic({"model": _cpu_state(model), "model_config": model_config(model, cfg.get("model")), "step": step,
                              "epoch": epoch, "val": {k: v for k, v in row.items() if k.startswith("val")}},
                             out / "best.pt")
            _save_atomic(state, last)
            if tc.get("keep_epochs"):
                _save_atomic({"model": state["model"], "model_config": state["model_config"], "step": step,
                              "epoch": epoch, "minutes": minutes}, out / f"epoch_{epoch:03d}.pt")
    for sig, handler in old.items():
        signal.signal(sig, handler)
    return out
