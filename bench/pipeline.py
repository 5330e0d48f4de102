"""Benchmark ``make-dataset synthesize`` end to end against the I/O floor, side by side.

The floor decodes each 512x512 HQ source (``pipelines.common.images.load_image``), encodes it as PNG
(``encode_image``, the same encoder synthesize uses) and appends it to a tar: the least any
shard writer must do. Synthesize is timed end to end (listing and hashing inputs, planning,
decoding, degrading, encoding HQ + LQ, tar + Parquet + stats, manifests), with 1 and 2 workers.

    python bench/pipeline.py                      # noisy, jpeg-compressed and every other type that loads
    python bench/pipeline.py --tasks noisy --images 32 --repeats 3
    python bench/pipeline.py --distributor ray --tasks noisy   # Ray vs the local pool, 2 workers

Prints JSON: images/s of the floor and of each (task, workers), the ratio to the floor per task
and the 1 -> 2 worker speed-up; CPU milliseconds per image (this process + pool workers) and the
CPU-time ratio, which a machine shared with other jobs disturbs far less than wall time; and the
median time of each stage of one sample. Runs are interleaved and the best of ``--repeats`` is
kept, so a busy machine penalises every configuration alike.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import degradations  # noqa: E402
from pipelines.build.sources import bundled_photos  # noqa: E402
from pipelines.build.writers import tar_member  # noqa: E402
from pipelines.common.images import encode_image, load_image  # noqa: E402
from pipelines.synthesize.worker import SynthConfig  # noqa: E402

SIZE = 512


def make_sources(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` distinct 512x512 PNG photos: random crops (resized) of the bundled photos."""
    rng = np.random.default_rng(seed)
    photos = [load_image(s.path) for s in bundled_photos()]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = cv2.resize(img[y : y + side, x : x + side], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        path = folder / f"src_{i:04d}.png"
        path.write_bytes(encode_image(crop, "png"))
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (pool workers), user + system."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_floor(paths: list[Path], out: Path, png_level: int = 1) -> tuple[float, float]:
    """Decode, encode PNG, append to a tar; returns (images/s, CPU ms per image)."""
    out.mkdir(parents=True, exist_ok=True)
    cpu = cpu_seconds()
    start = time.perf_counter()
    with open(out / "floor.tar", "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i, path in enumerate(paths):
            data = encode_image(load_image(path), "png", png_level)
            tar.addfile(tar_member(f"{i:06d}.hq.png", data), io.BytesIO(data))
    return len(paths) / (time.perf_counter() - start), (cpu_seconds() - cpu) * 1000 / len(paths)


def run_synth(task: str, inputs: Path, out: Path, workers: int, shard_size: int,
              distributor: str = "local", png_level: int = 1) -> tuple[float, float]:
    """End-to-end synthesize of one task; returns (images/s, CPU ms per image incl. workers; Ray's
    workers are not children of this process, so with ``ray`` only the driver's CPU counts)."""
    from pipelines.build.plan import BuildOptions
    from pipelines.synthesize.command import synthesize  # imported here: spawned workers re-import this file

    config = SynthConfig(tasks=(task,), variants=1, seed=0, shard_size=shard_size, png_level=png_level)
    cpu = cpu_seconds()
    start = time.perf_counter()
    options = BuildOptions(out=out / "data", manifests=out / "manifests", workers=workers, distributor=distributor)
    report = synthesize(config, options, input=inputs)
    elapsed = time.perf_counter() - start
    cpu_ms = (cpu_seconds() - cpu) * 1000 / report.n_sources
    ok = sum(n for (t, _, status), n in report.counts.items() if status == "ok")
    if ok != report.n_sources:
        raise RuntimeError(f"{task}: only {ok} of {report.n_sources} samples ok")
    return report.n_sources / elapsed, cpu_ms


def stage_times(task: str, paths: list[Path]) -> dict[str, float]:
    """Median milliseconds per stage for one sample (in this process): where the time goes."""
    from pipelines.manifest.schema import sha256_hex

    times: dict[str, list[float]] = {"decode": [], "encode_hq": [], "degrade": [], "encode_lq": []}
    deg = degradations.get(task)
    for path in paths:
        t0 = time.perf_counter()
        img = load_image(path)
        t1 = time.perf_counter()
        hq = encode_image(img, "png")
        t2 = time.perf_counter()
        seed = degradations.sub_seed(0, sha256_hex(hq), task, 0)
        lq = deg.apply(img, degradations.sample_params(task, np.random.default_rng(seed), img.shape, "medium")).lq
        t3 = time.perf_counter()
        encode_image(lq, "png")
        t4 = time.perf_counter()
        for name, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[name].append(value * 1000)
    return {name: round(float(np.median(v)), 2) for name, v in times.items()}


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_control(units: int = 3_000_000) -> float:
    """Speed-up this machine gives a trivially parallel CPU burner with 2 vs 1 processes right now
    (near 2.0 on two idle cores; near 1.0 when other jobs already use them)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [10, 10])
        start = time.perf_counter()
        _burn(units)
        _burn(units)
        serial = time.perf_counter() - start
        start = time.perf_counter()
        pool.map(_burn, [units, units], chunksize=1)
        parallel = time.perf_counter() - start
    return serial / parallel


def available_tasks(requested: list[str] | None) -> list[str]:
    names = requested or ["noisy", "jpeg-compressed"] + [n for n in degradations.NAMES
                                                          if n not in ("noisy", "jpeg-compressed")]
    out = []
    for name in names:
        try:
            degradations.get(name)
            out.append(degradations.canonical_name(name))
        except Exception as exc:  # a type not implemented yet is reported, not fatal
            print(f"skipping {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return out


def _noop(spec: int, progress) -> int:
    return spec


def ray_versus_local(tasks: list[str], inputs: Path, tmp: Path, workers: int, shard_size: int,
                     repeats: int) -> dict[str, object]:
    """Ray (a local cluster of ``workers`` CPUs, started once) against the local pool of ``workers``
    processes on the same synthesize runs, interleaved; plus Ray's start-up and per-task cost."""
    from pipelines.distribute.ray import import_ray, run_ray

    ray = import_ray(local=True)
    start = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    startup = time.perf_counter() - start
    try:
        start = time.perf_counter()
        list(run_ray(_noop, list(range(workers))))  # the first tasks also start the worker processes
        first = time.perf_counter() - start
        start = time.perf_counter()
        n = len(list(run_ray(_noop, list(range(400)))))
        per_task_ms = (time.perf_counter() - start) * 1000 / n
        rates: dict[str, list[float]] = {}
        for rep in range(repeats):
            for task in tasks:
                for name in ("local", "ray"):
                    out = tmp / f"{name}-{task}-{rep}"
                    rates.setdefault(f"{task}/{name}", []).append(run_synth(task, inputs, out, workers,
                                                                            shard_size, name)[0])
                    shutil.rmtree(out)
    finally:
        ray.shutdown()
    out = tmp / "ray-cold"  # as from the command line: the run starts and stops its own local cluster
    cold = run_synth(tasks[0], inputs, out, workers, shard_size, "ray")[0]
    shutil.rmtree(out)
    med = statistics.median
    return {
        f"{tasks[0]}_cold_ray_images_per_s (cluster start included, one run)": round(cold, 2),
        "workers": workers,
        "ray_cluster_start_s": round(startup, 2),
        "ray_first_tasks_s (worker processes start)": round(first, 2),
        "ray_per_task_overhead_ms (empty task, warm cluster)": round(per_task_ms, 2),
        "tasks": {task: {"local_images_per_s": round(med(rates[f"{task}/local"]), 2),
                         "ray_images_per_s": round(med(rates[f"{task}/ray"]), 2),
                         "ray_to_local_ratio": round(med(r / q for r, q in zip(rates[f"{task}/ray"],
                                                                                rates[f"{task}/local"])), 3)}
                  for task in tasks},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--png-level", type=int, default=1, help="zlib level of PNG members (floor and synthesize)")
    parser.add_argument("--distributor", choices=["local", "ray"], default="local",
                        help="ray: Ray against the local pool at the largest --workers, same runs (JSON)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    tasks = available_tasks(args.tasks)
    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    try:
        inputs = tmp / "inputs"
        paths = make_sources(inputs, args.images)
        if args.distributor == "ray":
            result = ray_versus_local(tasks, inputs, tmp, args.workers[-1], args.shard_size, args.repeats)
            result.update(images=args.images, image_size=[SIZE, SIZE], shard_size=args.shard_size,
                          statistic="median over repeats; ratio per repeat (local and Ray runs interleaved)",
                          machine={"cpus": os.cpu_count(), "platform": platform.platform()})
            print(json.dumps(result, indent=2))
            return
        runs: dict[str, list[tuple[float, float, float]]] = {}  # config -> (rate, cpu ms, floor rate next to it)
        floors: list[tuple[float, float]] = []
        controls: list[float] = []
        for rep in range(args.repeats):
            for task in tasks:
                for workers in args.workers:
                    if workers == args.workers[-1] and len(args.workers) > 1:
                        controls.append(parallel_control())
                    floor = run_floor(paths, tmp / f"floor{rep}", args.png_level)  # timed right before, so both see the same load
                    floors.append(floor)
                    rate, cpu_ms = run_synth(task, inputs, tmp / f"{task}-{workers}-{rep}", workers, args.shard_size,
                                             png_level=args.png_level)
                    runs.setdefault(f"{task}/{workers}", []).append((rate, cpu_ms, floor[0]))
                    shutil.rmtree(tmp / f"{task}-{workers}-{rep}")
        med = statistics.median
        floor_cpu = min(c for _, c in floors)
        result = {
            "benchmark": "make-dataset synthesize end to end vs I/O floor (decode + PNG encode + tar append)",
            "image_size": [SIZE, SIZE],
            "images": args.images,
            "shard_size": args.shard_size,
            "repeats": args.repeats,
            "statistic": "median over repeats; ratios are taken per repeat against the floor run timed just before",
            "image_format": "png",
            "png_level": args.png_level,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "opencv": cv2.__version__,
                        "loadavg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
            "machine_parallel_control_speedup": round(med(controls), 3) if controls else None,
            "floor_images_per_s": round(med(r for r, _ in floors), 2),
            "floor_cpu_ms_per_image": round(floor_cpu, 2),
            "tasks": {},
        }
        w0, w1 = args.workers[0], args.workers[-1]
        for task in tasks:
            entry: dict[str, object] = {}
            for w in args.workers:
                entry[f"workers_{w}_images_per_s"] = round(med(r for r, _, _ in runs[f"{task}/{w}"]), 2)
                entry[f"workers_{w}_cpu_ms_per_image"] = round(min(c for _, c, _ in runs[f"{task}/{w}"]), 2)
            entry["ratio_to_floor_1_worker"] = round(med(r / f for r, _, f in runs[f"{task}/{w0}"]), 3)
            entry["cpu_ratio_to_floor"] = round(floor_cpu / entry[f"workers_{w0}_cpu_ms_per_image"], 3)
            if w1 != w0:
                pairs = zip(runs[f"{task}/{w0}"], runs[f"{task}/{w1}"])
                entry[f"speedup_{w0}_to_{w1}_workers"] = round(med(b[0] / a[0] for a, b in pairs), 3)
            entry["stage_ms_median"] = stage_times(task, paths[: min(len(paths), 16)])
            result["tasks"][task] = entry
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
