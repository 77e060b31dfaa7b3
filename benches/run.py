#!/usr/bin/env python3
"""Run isoformer and the PyTorch reference side by side and print the comparison table.

    /work/venv/torch/bin/python benches/run.py                 # everything (see benches/README.md)
    python benches/run.py --workloads esm-1x512 --backends flex --rounds 1   # a quick look

Each measurement is its own process (so peak RSS is that workload's alone), run alternately:
round 1: pytorch, flex, ndarray, wgpu; round 2: the same order; ... The table gives, per workload
and side, the median of all timed passes, the achieved GFLOP/s (FLOPs by formula, from
`isoformer-bench flops`), the ratio PyTorch time / this side's time (> 1: isoformer is faster),
the peak RSS during the timed passes, and whether the output checksum agrees with PyTorch's.
Results are also written as JSON to benches/results/<date>.json.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ["esm-1x512", "esm-8x256", "nt-1x2048", "enformer", "full"]
BIG = {"enformer", "full"}  # one timed pass per process, no warm-up (30-60 s each on 2 cores)


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_json(cmd, timeout, env):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--backends", default="flex,ndarray,wgpu",
                    help="isoformer backends (flex, ndarray, wgpu; flex-int8: the weights quantized int8 per "
                         "channel and run by the int8 kernels, compared with PyTorch fp32)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (wgpu: at most 1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--timeout", type=int, default=900, help="seconds per process")
    ap.add_argument("--weights", default=str(ROOT / "benches" / "weights"))
    ap.add_argument("--bench-bin", default=None, help="isoformer-bench binary (default: build it)")
    a = ap.parse_args()

    weights = Path(a.weights)
    if not (weights / "inputs.safetensors").exists():
        print(f"writing random official-geometry weights to {weights} (once, ~2 min, 4.8 GB)", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "benches" / "make_weights.py"), str(weights)], check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = a.bench_bin or str(target / "release" / "isoformer-bench")
    if not a.bench_bin:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "isoformer-bench"], check=True, cwd=ROOT)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               OMP_NUM_THREADS=str(a.threads))
    workloads = a.workloads.split(",")
    backends = [b for b in a.backends.split(",") if b]
    flops = json.loads(subprocess.run([binary, "flops"], capture_output=True, text=True, check=True).stdout)

    started = datetime.datetime.now()
    info = {"date": started.isoformat(timespec="seconds"), "cpu": cpu_model(), "cores": os.cpu_count(),
            "threads": a.threads, "loadavg_before": os.getloadavg()}
    print(f"# {info['date']} · {info['cpu']} · {info['cores']} cores · {a.threads} threads · "
          f"load average before {info['loadavg_before'][0]:.2f}", flush=True)

    peaks = {"pytorch": run_json([sys.executable, "benches/torch_side.py", "--workload", "sgemm",
                                  "--threads", str(a.threads)], a.timeout, env)}
    for b in backends:
        if b.endswith("-int8"):
            continue
        peaks[f"isoformer-{b}"] = run_json([binary, "sgemm", "--backend", b], a.timeout, env)
    for side, r in peaks.items():
        print(f"SGEMM 2048 {side}: " + (f"{r['gflops']:.0f} GFLOP/s" if "gflops" in r else r["error"]), flush=True)
    peak = max(r.get("gflops", 0) for r in peaks.values())

    results = {}
    out = ROOT / "benches" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{started:%Y-%m-%d-%H%M}.json"

    def save():  # after every measurement, so an interrupted run keeps what it measured
        path.write_text(json.dumps({"info": info, "sgemm": peaks, "flops": flops, "results": results}, indent=1))

    for w in workloads:
        reps, warmup = ("1", "0") if w in BIG else ("3", "1")
        for rnd in range(a.rounds):
            sides = [("pytorch", [sys.executable, "benches/torch_side.py", "--threads", str(a.threads)])]
            sides += [(f"isoformer-{b}", [binary, "run", "--backend", b.removesuffix("-int8")]
                       + (["--int8", "on"] if b.endswith("-int8") else []))
                      for b in backends if b != "wgpu" or rnd == 0]
            for side, cmd in sides:
                r = run_json(cmd + ["--workload", w, "--weights", str(weights), "--reps", reps, "--warmup", warmup],
                             a.timeout, env)
                results.setdefault(w, {}).setdefault(side, []).append(r)
                save()
                shown = r.get("error") or f"{statistics.median(r['times_s']):.2f} s, {r['peak_rss_timed_mib']:.0f} MiB"
                print(f"  {w} round {rnd + 1} {side}: {shown}", flush=True)

    info["loadavg_after"] = os.getloadavg()
    rows = []
    for w in workloads:
        by_side = results[w]
        ok = lambda runs: [r for r in runs if "error" not in r]  # noqa: E731
        ref = ok(by_side.get("pytorch", []))
        ref_t = statistics.median([t for r in ref for t in r["times_s"]]) if ref else None
        ref_sum = ref[0]["out_abs_mean"] if ref else None
        for side, runs in by_side.items():
            good = ok(runs)
            if not good:
                rows.append((w, side, runs[0]["error"], "", "", "", ""))
                continue
            t = statistics.median([x for r in good for x in r["times_s"]])
            rss = max(r["peak_rss_timed_mib"] for r in good)
            gf = flops[w] / t / 1e9
            ratio = f"{ref_t / t:.2f}" if ref_t else "–"
            rel = abs(good[0]["out_abs_mean"] - ref_sum) / (abs(ref_sum) + 1e-12) if ref_sum is not None else None
            same = "–" if side == "pytorch" or ref_sum is None else (
                # int8 weights and activations are not PyTorch's fp32 model: the mean |output| moves
                # by their rounding (the accuracy gate, `isoformer eval --against`, judges it).
                f"int8: mean |out| within {rel:.1e}" if side.endswith("-int8") else
                "yes" if rel <= 1e-3 else
                f"NO ({good[0]['out_abs_mean']:.6g} vs {ref_sum:.6g})")
            n = sum(len(r["times_s"]) for r in good)
            rows.append((w, side, f"{t:.3f}", f"{gf:.1f} ({100 * gf / peak:.0f}%)", ratio, f"{rss:.0f}", f"{same} (n={n})"))

    print()
    print(f"FLOPs per pass (benches/README.md): " + ", ".join(f"{w} {flops[w] / 1e9:.1f} G" for w in workloads))
    print(f"Machine peak: {peak:.0f} GFLOP/s (best SGEMM 2048 above)")
    print()
    print("| workload | side | median s | GFLOP/s (% of peak) | PyTorch/isoformer | peak RSS MiB | output = PyTorch's |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average before {info['loadavg_before'][0]:.2f}, after {info['loadavg_after'][0]:.2f}")
    save()
    print(f"raw results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
