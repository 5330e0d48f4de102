"""Sizing the one-step NAFNet restorer on CPU: oracle-conditioned vs unconditioned; prints JSON.

1. Pairs: scikit-image's photos (``bench/daclip_cpu.py``'s 15 training photos), each resized to a
   ``--short-side`` px short side, degraded ``--seeds`` times by each of the ten types (medium
   severity, seeds from one SeedSequence). Training draws random ``--patch`` crops with flips from
   this pool. ``rocket`` and ``coffee`` are held out: degraded ``--test-seeds`` times per type, they
   are restored whole and scored (PSNR on uint8, as ``daclip.restoration.metrics``).
2. Arms, trained at the same time (one process and thread each, same seed, same batches):
   ``unconditioned`` (``condition="none"``) and ``oracle`` (the same NAFNet fed a fixed unit vector
   per true type as its degradation embedding, no content embedding). The unit vector stands in for
   the DA-CLIP text embedding of the type word (also one fixed vector per type); the DA-CLIP arm will
   get close to this arm only as far as its classifier is right.
3. Per type: LQ, each arm, and the tuned classical filter of ``bench/classical.py`` (tuned on
   training pairs); plus the issue's goals, the time of a tiled 1600x1200 restore with the trained
   oracle net, and its tiled-vs-whole difference.

    python bench/onestep_sizing.py --config nafnet-demo --steps 3000 --minutes 12 --out /tmp/onestep.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.classical import BASELINES, tune  # noqa: E402
from bench.daclip_cpu import TRAIN_PHOTOS, load_photo  # noqa: E402
from degradations import NAMES  # noqa: E402

TEST_PHOTOS = ("rocket", "coffee")
ARMS = ("unconditioned", "oracle")


def resized(name: str, short_side: int) -> np.ndarray:
    img = load_photo(name)
    scale = short_side / min(img.shape[:2])
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def make_pairs(photos: tuple[str, ...], seeds: int, short_side: int, key: int) -> dict[str, list[dict]]:
    from degradations import degrade

    out: dict[str, list[dict]] = {name: [] for name in NAMES}
    for p, photo in enumerate(photos):
        hq = resized(photo, short_side)
        for t, name in enumerate(NAMES):
            for s in range(seeds):
                seed = int(np.random.SeedSequence([key, p, t, s]).generate_state(1)[0])
                lq, _ = degrade(hq, name, seed)
                out[name].append({"hq": hq, "lq": lq, "photo": photo})
    return out


def batch(pool: dict[str, list[dict]], rng: np.random.Generator, size: int, patch: int):
    import torch


    lqs, hqs, types = [], [], []
    for _ in range(size):
        t = int(rng.integers(len(NAMES)))
        pair = pool[NAMES[t]][int(rng.integers(len(pool[NAMES[t]])))]
        h, w = pair["hq"].shape[:2]
        top, left = int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))
        flip_h, flip_v = rng.random() < 0.5, rng.random() < 0.5
        for img, dst in ((pair["lq"], lqs), (pair["hq"], hqs)):
            crop = img[top : top + patch, left : left + patch]
            crop = crop[:, ::-1] if flip_h else crop
            dst.append(np.ascontiguousarray(crop[::-1] if flip_v else crop))
        types.append(t)

    def tensor(arrs):
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float().div(255)

    return tensor(lqs), tensor(hqs), torch.tensor(types)


def oracle_embedding(types, dim: int):
    """A fixed dense random vector per type (a one-hot would vanish in the MLP's SimpleGate)."""
    import torch

    table = torch.randn(len(NAMES), dim, generator=torch.Generator().manual_seed(1234))
    return table[types]


def loss_fn(name: str, out, hq):
    import torch

    if name == "l1":
        return (out - hq).abs().mean()
    mse = ((out - hq) ** 2).mean(dim=(1, 2, 3))  # NAFNet's PSNR loss: mean per-image log-MSE
    return 10 * torch.log10(mse + 1e-8).mean()


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))


def train_arm(arm: str, args: argparse.Namespace) -> dict:
    import torch

    from daclip.restoration.nafnet import NAFNet, nafnet_config

    torch.set_num_threads(1)
    pool, test = pairs(args)  # rebuilt here: cheaper than pickling ~300 MB of pairs
    torch.manual_seed(args.seed)
    config, _ = nafnet_config(args.config, condition="none" if arm == "unconditioned" else "oracle",
                              **({"pool_radius": args.pool_radius} if args.pool_radius else {}))
    net = NAFNet(config)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.9))
    rng = np.random.default_rng(args.seed)
    start, step, losses = time.time(), 0, []
    while step < args.steps and time.time() - start < 60 * args.minutes:
        lq, hq, types = batch(pool, rng, args.batch_size, args.patch)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        loss = loss_fn(args.loss, net(lq, oracle_embedding(types, config.embed_dim)), hq)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
    minutes = (time.time() - start) / 60
    rows = evaluate(net.eval(), test, config.embed_dim)
    if arm == "oracle" and args.save:
        from safetensors.torch import save_file

        save_file(net.state_dict(), args.save)
    return {"arm": arm, "steps": step, "train_minutes": round(minutes, 2), "rows": rows,
            "final_loss": round(float(np.mean(losses[-50:])), 4),
            "parameters": sum(p.numel() for p in net.parameters())}


def evaluate(net, test: dict, dim: int) -> dict[str, float]:
    import torch

    from daclip.restoration.metrics import psnr

    rows = {}
    with torch.no_grad():
        for t, name in enumerate(NAMES):
            scores = []
            for s in test[name]:
                lq = torch.from_numpy(s["lq"]).permute(2, 0, 1)[None].float().div(255)
                out = net(lq, oracle_embedding(torch.tensor([t]), dim))
                img = out[0].mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
                scores.append(psnr(img, s["hq"]))
            rows[name] = float(np.mean(scores))
    return rows


def lq_and_classical(pool: dict, test: dict) -> tuple[dict, dict]:
    from daclip.restoration.metrics import psnr

    lq, classical = {}, {}
    for name, items in test.items():
        lq[name] = float(np.mean([psnr(s["lq"], s["hq"]) for s in items]))
        param = tune(name, pool[name][:: max(1, len(pool[name]) // 8)][:8], psnr)
        if param is not None:
            base = BASELINES[name]
            classical[name] = {"method": base.name, "param": param,
                               "psnr": float(np.mean([psnr(base.fn(s["lq"], param, s), s["hq"]) for s in items]))}
    return lq, classical


def speed_and_tiling(args: argparse.Namespace) -> dict:
    """Time a tiled 1600x1200 restore (2 threads, fp32) and compare tiled with whole on a 512 crop."""
    import torch
    from safetensors.torch import load_file

    from daclip.restoration.nafnet import NAFNet, nafnet_config, receptive_radius, tiled_forward

    torch.set_num_threads(2)
    config, _ = nafnet_config(args.config, condition="oracle",
                              **({"pool_radius": args.pool_radius} if args.pool_radius else {}))
    net = NAFNet(config).eval()
    net.load_state_dict(load_file(args.save))
    photo = torch.from_numpy(cv2.resize(load_photo("rocket"), (1600, 1200), interpolation=cv2.INTER_CUBIC))
    x = photo.permute(2, 0, 1)[None].float().div(255)
    d = oracle_embedding(torch.tensor([4]), config.embed_dim)
    with torch.no_grad():
        start = time.perf_counter()
        tiled_forward(net, x, args.tile, args.margin, d)
        seconds = time.perf_counter() - start
        crop = x[..., :512, :512]
        whole = net(crop, d)
        diffs = {m: float((tiled_forward(net, crop, 128, m, d) - whole).abs().max()) * 255 for m in (16, 32, 64)}
    return {"seconds_1600x1200": round(seconds, 2), "tile": args.tile, "margin": args.margin, "threads": 2,
            "receptive_radius_bound": receptive_radius(config),
            "tiled_vs_whole_max_abs_diff_255": {f"tile128_margin{m}": round(v, 4) for m, v in diffs.items()}}


def summary(lq: dict, classical: dict, arms: dict) -> dict:
    mean = {k: float(np.mean(list(v.values()))) for k, v in {"lq": lq, **{a: arms[a]["rows"] for a in arms}}.items()}
    oracle = arms["oracle"]["rows"]
    beats = [n for n, c in classical.items() if oracle[n] > c["psnr"]]
    return {"mean_psnr": {k: round(v, 2) for k, v in mean.items()},
            "goal_lq_plus_3": mean["oracle"] >= mean["lq"] + 3,
            "goal_uncond_plus_1": mean["oracle"] >= mean["unconditioned"] + 1,
            "oracle_beats_classical": f"{len(beats)}/{len(classical)}", "goal_classical_7_of_9": len(beats) >= 7}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, kind, default in (("--config", str, "nafnet-demo"), ("--steps", int, 3000), ("--minutes", float, 12.0),
                                ("--batch-size", int, 8), ("--patch", int, 96), ("--lr", float, 2e-3),
                                ("--warmup", int, 50), ("--loss", str, "psnr"), ("--seeds", int, 4),
                                ("--test-seeds", int, 3), ("--short-side", int, 256), ("--seed", int, 0),
                                ("--pool-radius", int, 0), ("--tile", int, 512), ("--margin", int, 32),
                                ("--save", str, "/tmp/onestep_oracle.safetensors"), ("--out", str, None)):
        p.add_argument(flag, type=kind, default=default)
    return p.parse_args()


def pairs(args: argparse.Namespace) -> tuple[dict, dict]:
    return (make_pairs(TRAIN_PHOTOS, args.seeds, args.short_side, key=0),
            make_pairs(TEST_PHOTOS, args.test_seeds, args.short_side, key=1))


def main() -> None:
    args = parse()
    t0 = time.time()
    pool, test = pairs(args)
    with ProcessPoolExecutor(len(ARMS), mp_context=get_context("spawn")) as ex:
        futures = {arm: ex.submit(train_arm, arm, args) for arm in ARMS}
        lq, classical = lq_and_classical(pool, test)
        arms = {arm: f.result() for arm, f in futures.items()}
    per_type = {n: {"lq": round(lq[n], 2), **{a: round(arms[a]["rows"][n], 2) for a in ARMS},
                    "classical": round(classical[n]["psnr"], 2) if n in classical else None} for n in lq}
    report = {"args": vars(args), "train_photos": TRAIN_PHOTOS, "test_photos": TEST_PHOTOS,
              "arms": {a: {k: v for k, v in r.items() if k != "rows"} for a, r in arms.items()},
              "per_type_psnr": per_type, "summary": summary(lq, classical, arms),
              "classical": {n: {k: v for k, v in c.items() if k != "psnr"} for n, c in classical.items()},
              "speed": speed_and_tiling(args), "wall_minutes": round((time.time() - t0) / 60, 2)}
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
