#!/usr/bin/env python3
"""The official-geometry model in headless Chromium: one full-length transcript (196,608 bp of
DNA) predicted by the page, on WebGPU (SwiftShader) and on the CPU fallback, from a model
directory picked as local files (the weights read in slices by the worker).

usage: page_official.py DIST MODEL_DIR INPUT_TSV ISOFORMER [BACKEND ...]

DIST is `trunk build`'s output, MODEL_DIR a model directory (e.g. the int8 copy of
`isoformer-bench official-model`: random weights, official sizes), INPUT_TSV one transcript in
`prepare`'s format, ISOFORMER the native CLI, whose CPU prediction of the same files the page's
table must equal within the parity tolerance. BACKENDs: webgpu, cpu (default both). PAGE_TIMEOUT: seconds a prediction may take (3600).

Printed per backend, one JSON line: the load and prediction times the page reports, the
WebAssembly memory after each, the peak resident memory of Chromium's renderer processes (where
the worker and its wasm memory live) and of its GPU process (SwiftShader's buffers), sampled
every 0.5 s, the largest |Δ| against the CLI, and the requests made after the model loaded (the
page test's check: none may reach the server or show in Chromium's network log).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from e2e_page import (ABS, REL, MODEL_FILES, Server, WebDriver, network_requests, read_tsv,  # noqa: E402
                      start_chromedriver, table_text, wait_for)


def chromium_rss():
    """Resident KiB of Chromium's processes by type (renderer, gpu-process, browser...)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                # Chromium's children rewrite their title: arguments may be one space-joined string.
                cmd = f.read().replace(b"\0", b" ").split()
            if not cmd or b"chrom" not in cmd[0]:
                continue
            kind = next((a.split(b"=", 1)[1].decode() for a in cmd if a.startswith(b"--type=")), "browser")
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            out[kind] = out.get(kind, 0) + rss
        except (OSError, StopIteration, ValueError):
            continue
    return out


class Peak(threading.Thread):
    """The largest resident size per process type while it runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.running = {}, True

    def run(self):
        while self.running:
            for k, v in chromium_rss().items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            time.sleep(0.5)

    def stop(self):
        self.running = False
        self.join()
        return {k: round(v / 1024) for k, v in self.peak.items()}


def main():
    dist, model, tsv, isoformer = (os.path.abspath(a) for a in sys.argv[1:5])
    backends = sys.argv[5:] or ["webgpu", "cpu"]
    t = time.time()
    native = subprocess.run([isoformer, "predict", "-q", "--model", model, "--input", tsv, "--output", "-"],
                            check=True, capture_output=True, text=True).stdout
    print(json.dumps({"native_cli_s": round(time.time() - t, 1)}), flush=True)
    want = read_tsv(native)
    server = Server(dist)
    work = tempfile.mkdtemp(prefix="isoformer-page-official.")
    driver, port = start_chromedriver()
    try:
        for backend in backends:
            wd = WebDriver(port)
            wd.start(os.path.join(work, f"profile-{backend}"))
            try:
                print(json.dumps(run(wd, server, backend, model, tsv, want)), flush=True)
            finally:
                wd.quit()
    finally:
        driver.terminate()


def run(wd, server, backend, model, tsv, want):
    wd.call("POST", "/url", {"url": f"http://127.0.0.1:{server.port}/index.html"})
    wait_for(wd, "return document.getElementById('predict') !== null", "the page")
    wd.js(f"const s = document.getElementById('backend'); s.value = '{backend}'; s.dispatchEvent(new Event('change'));")
    peak = Peak()
    peak.start()
    t0 = time.time()
    wd.send_file("#model-files", "\n".join(os.path.join(model, n) for n in MODEL_FILES))
    wait_for(wd, "return document.body.dataset.state === 'loaded' || !document.getElementById('error').hidden", "the model to load", timeout=3600)
    err = wd.js("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")
    load = {"load_wall_s": round(time.time() - t0, 1), "model_status": wd.js("return document.getElementById('model-status').textContent")}
    if err:
        return {"backend": backend, **load, "error": err, "peak_rss_mib": peak.stop()}
    mark = time.time()
    wd.perf_log()  # drop what was logged before the model loaded
    wd.send_file("#input-file", os.path.abspath(tsv))
    wait_for(wd, "return document.getElementById('input-status').textContent.startsWith('Input:')", "the input")
    wd.click("#predict")
    limit = int(os.environ.get("PAGE_TIMEOUT", "3600"))
    try:
        wait_for(wd, "return document.body.dataset.state === 'done' || !document.getElementById('error').hidden", "the prediction", timeout=limit)
    except AssertionError:
        return {"backend": backend, **load, "peak_rss_mib": peak.stop(), "error": f"no prediction after {limit} s (PAGE_TIMEOUT)",
                "run_status": wd.js("return document.getElementById('run-status').textContent")}
    rss = peak.stop()
    err = wd.js("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")
    result = {"backend": backend, **load, "peak_rss_mib": rss,
              "run_status": wd.js("return document.getElementById('run-status').textContent"),
              "predict_s": (wd.js("return Number(document.getElementById('run-status').dataset.millis)") or 0) / 1000,
              "wasm_memory_mib": round((wd.js("return Number(document.getElementById('run-status').dataset.wasmBytes)") or 0) / 1048576)}
    if err:
        return {**result, "error": err}
    got = read_tsv(table_text(wd))[1]
    worst, within = 0.0, list(got) == list(want[1])
    for tid, wv in want[1].items():
        for a, b in zip(got.get(tid, []), wv):
            worst = max(worst, abs(a - b))
            within &= abs(a - b) <= ABS + REL * abs(b)
    after = [p for (t, p) in server.requests if t > mark]
    net = network_requests(wd.perf_log())
    return {**result, "max_abs_delta_vs_cli": worst, "within_1e-4": within,
            "requests_after_load": len(after) + len(net)}


if __name__ == "__main__":
    main()
