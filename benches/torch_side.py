#!/usr/bin/env python3
"""The PyTorch side of the benchmarks: the same workloads as `isoformer-bench run`, on the same
weights and inputs (benches/weights, written by make_weights.py), printing the same JSON line.

    python benches/torch_side.py --workload enformer --weights benches/weights --reps 3 --warmup 0

fp32, eval mode, `torch.no_grad()`, `torch.set_num_threads(--threads)`. Peak RSS is read from
/proc/self/status after resetting it (`/proc/self/clear_refs`) once the model is loaded and warm.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_fixtures as mf  # noqa: E402
from enformer_pytorch import Enformer  # noqa: E402
from transformers import EsmForMaskedLM  # noqa: E402


def peak_rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(module, path):
    missing, unexpected = module.load_state_dict(load_file(str(path)), strict=False)
    missing = [k for k in missing if "_trunk." not in k and "lm_head." not in k]
    if missing or unexpected:
        raise SystemExit(f"{path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return module.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--weights", default=str(ROOT / "benches" / "weights"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--tokens", help="batch: the inputs `isoformer-bench tokens` wrote")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.workload == "sgemm":
        n = 2048
        x, y = torch.rand(n, n), torch.rand(n, n)
        x @ y
        times = []
        for _ in range(5):
            t = time.perf_counter()
            x @ y
            times.append(time.perf_counter() - t)
        print(json.dumps({"n": n, "times_s": times, "gflops": 2 * n**3 / min(times) / 1e9}))
        return
    w = Path(a.weights)
    c = json.loads((w / "config.json").read_text())
    c["_head_hidden"] = 128
    inputs = load_file(str(w / "inputs.safetensors"))

    t0 = time.perf_counter()
    if a.workload in ("esm-1x512", "esm-8x256", "nt-1x2048"):
        if a.workload.startswith("esm"):
            model = EsmForMaskedLM(mf.esm_config(c))
            load(model.esm, w / "esm.safetensors")
        else:
            model = mf.make_nt(mf.nt_config(c))
            load(model.esm, w / "nt.safetensors")
        model.eval()
        ids = inputs[a.workload.replace("-", "_")]

        def run():
            return mf.esm_forward(model, ids).last_hidden_state
    elif a.workload == "enformer":
        model = Enformer.from_hparams(
            dim=c["enformer_dim"], depth=c["enformer_depth"], heads=c["enformer_heads"],
            attn_dim_key=c["enformer_attn_dim_key"], num_downsamples=c["enformer_num_downsamples"],
            dim_divisible_by=c["enformer_dim_divisible_by"], target_length=c["enformer_target_length"],
            use_tf_gamma=False, output_heads=dict(), dropout_rate=0.0, attn_dropout=0.0, pos_dropout=0.0)
        load(model, w / "enformer.safetensors")
        dna = inputs["dna_onehot"]

        def run():
            return model(dna, return_only_embeddings=True)
    elif a.workload == "full":
        model = mf.Isoformer(c, {"dna": "enformer", "rna": "nt_model", "protein": "esm_model"})
        load(model, w / "model.safetensors")
        dna, rna, prot = inputs["dna_onehot"], inputs["full_rna"], inputs["full_protein"]
        has_protein = torch.tensor([True])

        def run():
            return model(dna, rna, prot, has_protein)[-1]
    elif a.workload == "batch":
        return batch(a, c, w)
    else:
        raise SystemExit(f"unknown workload {a.workload}")
    del inputs
    load_s = time.perf_counter() - t0

    with torch.no_grad():
        for _ in range(a.warmup):
            run()
        Path("/proc/self/clear_refs").write_text("5")
        times = []
        for _ in range(a.reps):
            t = time.perf_counter()
            out = run()
            times.append(time.perf_counter() - t)
    out = out.double()
    print(json.dumps({
        "side": "pytorch", "workload": a.workload, "threads": torch.get_num_threads(), "load_s": load_s,
        "times_s": times, "peak_rss_timed_mib": peak_rss_mib(), "out_len": out.numel(),
        "out_sum": out.sum().item(), "out_abs_mean": out.abs().mean().item(),
        "torch": torch.__version__,
    }))


def batch(a, c, w):
    """The realistic batch (run.py's batch59): every transcript of the tokens file through the
    full model one at a time, batch 1, as the official snippet runs a transcript (its DNA window,
    RNA and protein tokens exactly as isoformer built them). One JSON line: the seconds of each
    transcript, the peak RSS, and the predictions (for the comparison with isoformer's TSV)."""
    from safetensors import safe_open
    t0 = time.perf_counter()
    model = mf.Isoformer(c, {"dna": "enformer", "rna": "nt_model", "protein": "esm_model"})
    load(model, w / "model.safetensors")
    with safe_open(a.tokens, "pt") as f:
        ids = f.metadata()["ids"].split("\n")
        t = {k: f.get_tensor(k) for k in f.keys()}
    load_s = time.perf_counter() - t0
    Path("/proc/self/clear_refs").write_text("5")
    times, preds = [], []
    with torch.no_grad():
        for i, tid in enumerate(ids):
            start = time.perf_counter()
            dna = t[f"dna.{int(t['window'][i])}"].float()[None]
            out = model(dna, t[f"rna.{i}"][None], t[f"protein.{i}"][None], t["has_protein"][i:i + 1].bool())[-1]
            times.append(time.perf_counter() - start)
            preds.append([float(v) for v in out[0]])
    print(json.dumps({"side": "pytorch", "workload": "batch", "threads": torch.get_num_threads(), "load_s": load_s,
                      "times_s": times, "peak_rss_timed_mib": peak_rss_mib(), "ids": ids, "predictions": preds,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
