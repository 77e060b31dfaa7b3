#!/usr/bin/env python3
"""Where one workload's time goes, per op class, from a `perf` profile of isoformer-bench.

    python3 benches/op_profile.py --workload esm-8x256                  # record and classify
    python3 benches/op_profile.py --workload enformer --int8 on
    python3 benches/op_profile.py --data /tmp/perf.data                 # classify an earlier recording

It runs `perf record -e cpu-clock` (sampling works where hardware counters do not, as on the
virtual machines here) on `isoformer-bench run --workload W --reps R --warmup 0`, then sorts the
samples by symbol into op classes: f32 GEMM (the `gemm` crate's kernels and packing; the
convolutions are GEMMs too since they run as k strided products), int8 GEMM (rten-gemm's kernels
and packing), attention (the CPU attention kernels' softmax and loops), int8 activations
(quantize, dequantize, range, transposes), element-wise (the other CPU kernels and burn's
element-wise ops), burn's im2col convolution, memory (page faults, memset, memmove), loading (the
weights read, checked and quantized before the timed passes) and the rest. Shares are of the
samples outside loading, so they describe the forward passes. Needs Linux `perf`.
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# First match wins: the order matters (e.g. cpu_int8's range before element-wise).
CLASSES = [
    ("loading", r"weights::Loader|weights::finite|quant::quantize_int8|roundf|safetensors|_copy_to_iter|read_weights|filemap|copy_mc"),
    ("int8 GEMM", r"rten_gemm"),
    ("f32 GEMM", r"gemm_f32|gemm_common|gemm::gemm"),
    ("attention", r"softmax_rows|cpu_attention"),
    ("int8 activations", r"cpu_int8::"),
    ("element-wise", r"cpu_elementwise|burn_flex::(zip|ops::(unary|binary|cat|reduce)|strided_index|layout)|macerator|expf|erff|cpu_gemm::init_rows"),
    ("burn conv (im2col)", r"conv3d|conv2d|conv1d_f32|im2col"),
    ("memory", r"memset|memmove|memcpy|page_fault|clear_page|mem_cgroup|memcg|do_anonymous_page|handle_mm_fault|unmap_page|free_pages|alloc_pages"),
]


def classify(data: Path) -> dict:
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--sort", "symbol", "--stdio", "-g", "none", "--percent-limit", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    shares: dict = {}
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(.*\S)", line)
        if not m:
            continue
        pct, symbol = float(m.group(1)), m.group(2)
        name = next((c for c, rx in CLASSES if re.search(rx, symbol)), "other")
        shares[name] = shares.get(name, 0.0) + pct
    return shares


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="esm-8x256")
    ap.add_argument("--int8", default="off", choices=["on", "off"])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--bench-bin", default=str(ROOT / "target/release/isoformer-bench"))
    ap.add_argument("--data", help="classify this perf.data instead of recording")
    args = ap.parse_args()
    if args.data:
        data = Path(args.data)
    else:
        data = Path(tempfile.mkdtemp()) / "perf.data"
        cmd = [args.bench_bin, "run", "--workload", args.workload, "--int8", args.int8, "--reps", str(args.reps), "--warmup", "0"]
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-o", str(data), "--", *cmd], check=True, stdout=subprocess.DEVNULL)
    shares = classify(data)
    total = sum(shares.values())
    loading = shares.pop("loading", 0.0)
    forward = total - loading
    if forward <= 0:
        sys.exit("no samples outside loading")
    print(f"{data}: {total:.1f}% of samples classified, {loading:.1f}% loading; shares of the rest:")
    for name, pct in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20} {100 * pct / forward:5.1f}%")


if __name__ == "__main__":
    main()
