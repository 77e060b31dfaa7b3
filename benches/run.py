#!/usr/bin/env python3
"""Run isoformer and the PyTorch reference side by side and print the comparison table.

    /work/venv/torch/bin/python benches/run.py                 # everything (see benches/README.md)
    python benches/run.py --workloads esm-1x512 --backends flex --rounds 1   # a quick look
    python benches/run.py --workloads batch59 --backends flex,flex-int8      # the realistic batch

`--backends flex-int8` adds a side whose weights are quantized int8 per channel and run by the
int8 kernels (`isoformer-bench run --int8 on`, `isoformer predict --compute int8`): not PyTorch's
fp32 model, so its output column gives the difference instead of a yes/no. `batch59` (not in the
default list: ~45 min on 2 cores for both sides) is described in `batch59()` below.

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
import time
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
    ap.add_argument("--isoformer-bin", default=None, help="isoformer CLI binary, for batch59 (default: the target dir's)")
    ap.add_argument("--batch-limit", type=int, default=None,
                    help="batch59: only the first N transcripts of the 59 (same order on both sides)")
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
    if "batch59" in workloads:
        batch59(a, binary, env, weights, backends, target)
        workloads = [w for w in workloads if w != "batch59"]
        if not workloads:
            return
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


def batch59(a, bench, env, weights, backends, target):
    """The realistic batch: the 59 bundled example transcripts (examples/, three genes, 50
    distinct TSS windows) prepared at the official 196,608-bp window, through the full model with
    the benchmark's random weights. isoformer: one `isoformer predict` run (its batching: each DNA
    window through Enformer once, transcripts of one window batched); PyTorch: one transcript at a
    time, batch 1, as the official snippet does, on the same token ids (`isoformer-bench tokens`).
    Time excludes loading the model on both sides; transcripts per hour from it."""
    import re
    import tempfile
    iso = a.isoformer_bin or str(target / "release" / "isoformer")
    tsv = weights / "batch59.tsv"
    if not tsv.exists():
        subprocess.run([iso, "prepare", "--genome", "examples/genome.fa.gz", "--annotation", "examples/genes.gtf",
                        "--all", "--model", str(weights), "-o", str(tsv)], check=True, cwd=ROOT)
    if a.batch_limit:
        lines = tsv.read_text().splitlines(keepends=True)
        tsv = weights / f"batch59-first{a.batch_limit}.tsv"
        tsv.write_text("".join(lines[:1 + a.batch_limit]))
    tokens = tsv.with_suffix(".tokens.safetensors")
    subprocess.run([bench, "tokens", "--model", str(weights), "--input", str(tsv), "--output", str(tokens)],
                   check=True, cwd=ROOT, capture_output=True)
    int8_dir = weights.parent / (weights.name + "-int8")
    if any(b.endswith("-int8") for b in backends) and not int8_dir.exists():
        subprocess.run([bench, "int8-copy", "--model", str(weights), "--output", str(int8_dir)], check=True, cwd=ROOT)
    print(f"# batch59: {tsv.relative_to(ROOT) if tsv.is_relative_to(ROOT) else tsv}", flush=True)

    results = {}
    torch_run = run_json([sys.executable, "benches/torch_side.py", "--workload", "batch", "--weights", str(weights),
                          "--tokens", str(tokens), "--threads", str(a.threads)], 24 * 3600, env)
    if "error" in torch_run:
        raise SystemExit(f"PyTorch batch: {torch_run['error']}")
    results["pytorch"] = {"seconds": sum(torch_run["times_s"]), "load_s": torch_run["load_s"],
                          "rss": torch_run["peak_rss_timed_mib"], "n": len(torch_run["ids"])}
    ref = dict(zip(torch_run["ids"], torch_run["predictions"]))
    print(f"  batch59 pytorch: {results['pytorch']['seconds']:.1f} s for {results['pytorch']['n']} transcripts", flush=True)
    for b in [b for b in backends if b in ("flex", "flex-int8")]:
        model = int8_dir if b.endswith("-int8") else weights
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.tsv"
            cmd = ["/usr/bin/time", "-f", "%M", iso, "-v", "predict", "-m", str(model), "-i", str(tsv), "-o", str(out), "-q"]
            if b.endswith("-int8"):
                cmd += ["--compute", "int8"]
            start = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            wall = time.perf_counter() - start
            if p.returncode != 0:
                raise SystemExit(f"isoformer {b}: {p.stderr.strip().splitlines()[-1]}")
            m = re.search(r"model loaded in ([0-9.]+)(ms|s)", p.stderr)
            load = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1) if m else 0.0
            rss = int(p.stderr.strip().splitlines()[-1]) / 1024
            rows = [l.split("\t") for l in out.read_text().splitlines()]
            cols = 2 if rows[0][1] == "gene_id" else 1
            got = {r[0]: [float(v) for v in r[cols:]] for r in rows[1:]}
        diffs = [abs(x - y) for tid, p_ in ref.items() for x, y in zip(p_, got[tid])]
        flat_r = [x for tid in ref for x in ref[tid]]
        flat_g = [x for tid in ref for x in got[tid]]
        dot = sum(x * y for x, y in zip(flat_r, flat_g))
        cos = dot / (sum(x * x for x in flat_r) * sum(y * y for y in flat_g)) ** 0.5
        results[f"isoformer-{b}"] = {"seconds": wall - load, "load_s": load, "rss": rss, "n": len(got),
                                     "max_abs_diff": max(diffs), "cosine": cos}
        print(f"  batch59 isoformer-{b}: {wall - load:.1f} s (+ {load:.1f} s load)", flush=True)
    print()
    print("| side | transcripts | seconds (without loading) | transcripts per hour | PyTorch / isoformer | peak RSS MiB | vs PyTorch's predictions |")
    print("|---|---|---|---|---|---|---|")
    ref_s = results["pytorch"]["seconds"]
    for side, r in results.items():
        agree = "–" if side == "pytorch" else f"max |Δ| {r['max_abs_diff']:.2e}, cosine {r['cosine']:.6f}"
        print(f"| {side} | {r['n']} | {r['seconds']:.1f} | {3600 * r['n'] / r['seconds']:.0f} | "
              f"{ref_s / r['seconds']:.2f} | {r['rss']:.0f} | {agree} |")
    out = ROOT / "benches" / "results" / f"batch59-{datetime.datetime.now():%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps({"cpu": cpu_model(), "threads": a.threads, "tsv": str(tsv), "results": results}, indent=1))
    print(f"raw results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
