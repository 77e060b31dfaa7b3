#!/usr/bin/env python3
"""End-to-end test of the page (index.html + web/, built by `trunk build` into DIST) in headless
Chromium through chromedriver, with nothing but the Python standard library. The native CLI
(ISOFORMER) computes every table the page's are compared with, on the same files.

1. Serves DIST on 127.0.0.1 (a thread of this script), logging every request it receives; the
   bundled example in DIST/example must be models/demo-int8 and models/demo/example.tsv.
2. Loads the page, clicks "Use the bundled example" on the CPU backend: the page must state the
   model's outputs and units once it loads; "Predict": its table must be the CLI's TSV for
   `predict --model models/demo-int8 --input models/demo/example.tsv` (same bytes but for a value
   one unit off in the sixth decimal, as below). The same example as three FASTA files written
   from the TSV (DNA headers with `gene:ID`, empty protein records for non-coding transcripts)
   through the page's three FASTA pickers: the CLI's `predict --dna --rna --protein` TSV.
3. The example again on WebGPU (the page's default), then two of its transcripts as a FASTA
   triplet there (few: SwiftShader took 16-29 s for the two, compiling shaders, 7-8 s on the next
   run), within the parity tolerance |Δ| ≤ 1e-4 + 1e-4·|ref|. From this model load on no
   request may be made: the server must see none, and Chromium's network log (performance log,
   Network.requestWillBeSent) must show none but data:/blob: URLs, and its console no request
   refused by the page's CSP.
4. Bad inputs through the file pickers (a FASTA in the TSV picker, a binary file, a table with a
   bad letter, a FASTA triplet with an unpaired record, a gzip FASTA, an incomplete model
   directory) must each give a readable message, and the page must predict again afterwards.
5. The user's own files: the fp32 demo model directory and models/demo/example.tsv through the
   pickers, predicted on the CPU backend: the page's table, cell by cell, must equal the CLI's
   TSV for the same files: the same bytes in header, ids, gene ids, line order and formatting,
   each value the CLI's to the sixth decimal or one unit from it there (the script prints how many).
   Then the Variants section on that model: examples/variants.vcf, examples/genes.gtf and two
   regions of the bundled genome as a region FASTA (`>chr22:20000001-20060000`) through its
   pickers, window 1,024: its table must be the CLI's `score-variants` TSV on the whole genome
   by the same rule; a VCF whose REF is not the genome's must give the CLI's message.
6. Self-check: a fetch injected into the page after all that must be caught by the detector.
7. Saves a screenshot (SCREENSHOT) of the page with its results.

usage: e2e_page.py DIST ISOFORMER SCREENSHOT
"""

import base64
import filecmp
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ABS, REL = 1e-4, 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "models", "demo")
INT8 = os.path.join(ROOT, "models", "demo-int8")
EXAMPLE = os.path.join(DEMO, "example.tsv")
MODEL_FILES = ["config.json", "model.safetensors", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A static server for DIST that records (time, path) of every request."""

    def __init__(self, root):
        self.requests = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                              ".wasm": "application/wasm", ".js": "text/javascript", ".tsv": "text/plain"}

            def __init__(self, *a, **kw):
                super().__init__(*a, directory=root, **kw)

            def log_message(self, fmt, *args):
                pass

            def end_headers(self):
                # The page's CSP also as a header, as a static host should send it: a meta tag
                # covers the page only, while the worker script takes its policy from its response.
                self.send_header("Content-Security-Policy", CSP)
                super().end_headers()

            def send_head(self):
                log.append((time.time(), self.path))
                return super().send_head()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None, timeout=600):
        url = self.base + (f"/session/{self.session}" if self.session else "") + path
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.code} {e.read()[:2000].decode(errors='replace')}") from None

    def start(self, profile):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
                         # Nothing can leave the machine even if something tried.
                         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                         "--window-size=1280,1400"],
                "perfLoggingPrefs": {"enableNetwork": True, "enablePage": False},
            }}}}
        v = self.call("POST", "/session", caps, timeout=120)
        self.session = v["sessionId"]

    def js(self, script, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        v = self.call("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def click(self, css):
        self.call("POST", f"/element/{self.find(css)}/click")

    def send_file(self, css, path):
        self.call("POST", f"/element/{self.find(css)}/value", {"text": path})

    def perf_log(self):
        return self.call("POST", "/se/log", {"type": "performance"}) or []

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "", timeout=30)
            finally:
                self.session = None


def start_chromedriver():
    """chromedriver on a free port, once it answers: (process, port)."""
    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    return driver, port


def wait_for(wd, script, what, timeout=600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = wd.js(script)
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; page says: {page_text(wd)}")


def page_text(wd):
    return wd.js("return ['model-status','input-status','run-status','error'].map(i => i + ': ' + document.getElementById(i).textContent).join(' | ')")


def network_requests(entries):
    """URLs of requests in a performance log (data: and blob: are local, not network)."""
    urls = []
    for e in entries:
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            url = m["params"]["request"]["url"]
            if not url.startswith(("data:", "blob:")):
                urls.append(url)
    return urls


def read_tsv(text):
    """Header and {transcript_id: values}; a gene_id column (as prepare's inputs give) is skipped."""
    lines = [l for l in text.splitlines() if l]
    header = lines[0].split("\t")
    skip = 2 if header[1:2] == ["gene_id"] else 1
    rows = {l.split("\t")[0]: [float(x) for x in l.split("\t")[skip:]] for l in lines[1:]}
    return header, rows


def compare_table(wd, want_header, want):
    got = wd.js("""
        const t = document.getElementById('table');
        return Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent));""")
    skip = 2 if got[0][1:2] == ["gene_id"] else 1
    header, rows = got[0], {r[0]: [float(x) for x in r[skip:]] for r in got[1:]}
    assert header == want_header, f"table header {header} != CLI header {want_header}"
    assert list(rows) == list(want), f"table rows {list(rows)} != CLI rows {list(want)}"
    worst = 0.0
    for tid, w in want.items():
        for j, (g, r) in enumerate(zip(rows[tid], w)):
            d = abs(g - r)
            assert d <= ABS + REL * abs(r), f"{tid} {header[j + skip]}: page {g}, CLI {r}, |Δ| = {d}"
            worst = max(worst, d)
    device = wd.js("return document.getElementById('model-status').dataset.device")
    print(f"max |Δ| page ({device}) vs native CLI ({len(want)}×{len(want_header) - skip}): {worst:.3e}")


def table_text(wd):
    """The page's result table as TSV text: its cells joined by tabs, its rows by newlines."""
    rows = wd.js("""
        const t = document.getElementById('table');
        return Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent).join('\\t'));""")
    return "".join(r + "\n" for r in rows)


def same_bytes_but_last_digits(got, want, what, text_columns=2):
    """The page's table against the CLI's TSV: the same lines, cells, ids, gene ids and formatting
    (the first `text_columns` cells of a line are text); a value may differ from the CLI's only in
    its sixth decimal, by one (native flex and wasm flex add in different orders, so the last bit
    of a float can differ and flip the rounding)."""
    g, w = got.splitlines(), want.splitlines()
    assert len(g) == len(w), f"page table has {len(g)} lines, the CLI's TSV {len(w)}"
    assert g[0] == w[0], f"header differs:\n page {g[0]!r}\n CLI  {w[0]!r}"
    cells = flips = 0
    for n, (a, b) in enumerate(zip(g[1:], w[1:]), start=2):
        ca, cb = a.split("\t"), b.split("\t")
        assert len(ca) == len(cb) and ca[:text_columns] == cb[:text_columns], f"line {n} differs:\n page {a[:200]!r}\n CLI  {b[:200]!r}"
        for x, y in zip(ca[text_columns:], cb[text_columns:]):
            cells += 1
            assert len(x.split(".")[-1]) == 6, f"line {n}: {x!r} is not written with six decimals"
            if x != y:
                flips += 1
                assert abs(float(x) - float(y)) <= 1.5e-6, f"line {n}: page {x}, CLI {y}"
    identical = "byte for byte identical" if got == want else f"identical but for {flips} of {cells} values one unit apart in the sixth decimal"
    print(f"page (CPU) on {what} vs the CLI's TSV ({len(w) - 1} rows, {len(want)} bytes): {identical}")


class Cli:
    """The native CLI's tables, written into WORK."""

    def __init__(self, binary, work):
        self.binary, self.work, self.n = binary, work, 0

    def predict(self, model, *inputs):
        self.n += 1
        out = os.path.join(self.work, f"cli_{self.n}.tsv")
        t0 = time.time()
        subprocess.run([self.binary, "predict", "--model", model, *inputs, "--output", out, "-q"], check=True)
        print(f"CLI: isoformer predict --model {os.path.relpath(model, ROOT)} {' '.join(os.path.basename(i) if os.path.isabs(i) else i for i in inputs)} ({time.time() - t0:.1f} s)")
        with open(out) as f:
            return f.read()

    def score_variants(self, model, *args):
        self.n += 1
        out = os.path.join(self.work, f"cli_{self.n}.tsv")
        t0 = time.time()
        subprocess.run([self.binary, "score-variants", "--model", model, *args, "--output", out, "-q"], check=True)
        print(f"CLI: isoformer score-variants --model {os.path.relpath(model, ROOT)} ({time.time() - t0:.1f} s)")
        with open(out) as f:
            return f.read()


def read_example(path):
    """prepare's TSV as a list of {column: value} rows."""
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


def write_fasta_triplet(rows, folder):
    """The rows as the three FASTA files `predict --dna --rna --protein` reads: the gene id as a
    `gene:ID` word of the DNA header, sequences wrapped at 60, a non-coding transcript's protein
    record empty. Returns the three paths."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for column in ["dna", "rna", "protein"]:
        paths[column] = os.path.join(folder, f"{column}.fa")
        with open(paths[column], "w") as f:
            for r in rows:
                f.write(f">{r['transcript_id']} gene:{r['gene_id']}\n" if column == "dna" else f">{r['transcript_id']}\n")
                seq = r[column]
                for i in range(0, len(seq), 60):
                    f.write(seq[i:i + 60] + "\n")
    return paths["dna"], paths["rna"], paths["protein"]


def pick_fasta(wd, dna, rna, protein):
    for role, path in [("dna", dna), ("rna", rna), ("protein", protein)]:
        wd.send_file(f"#fasta-{role}", path)
    wait_for(wd, "return document.getElementById('input-status').textContent.startsWith('Input: FASTA')", "the three FASTA files to be read")


def use_example(wd, backend):
    wd.js(f"const s = document.getElementById('backend'); s.value = '{backend}'; s.dispatchEvent(new Event('change'));")
    wd.click("#use-example")
    wait_for(wd, "return document.body.dataset.state === 'loaded'", f"the bundled model to load ({backend})")
    print("model:", wd.js("return document.getElementById('model-status').textContent"))
    units = wd.js("return document.getElementById('model-units').textContent")
    print("model outputs:", units)
    assert units.startswith("Its 30 outputs: exon_psi:Adipose Tissue, exon_psi:Adrenal Gland, …, exon_psi:Vagina. Predicted values of the model's outputs"), units


def own_files(wd, cli):
    """The fp32 demo model and prepare's TSV of the examples through the pickers, on the CPU."""
    want = cli.predict(DEMO, "--input", EXAMPLE)
    wd.js("const s = document.getElementById('backend'); s.value = 'cpu'; s.dispatchEvent(new Event('change'));")
    # ChromeDriver adds to a multiple picker's files: start from none, as a user's new pick does.
    wd.js("document.getElementById('model-files').value = ''")
    wd.send_file("#model-files", "\n".join(os.path.join(DEMO, n) for n in MODEL_FILES))
    wait_for(wd, "return document.body.dataset.state === 'loaded'", "the demo model to load (cpu)")
    wd.send_file("#input-file", EXAMPLE)
    wait_for(wd, "return document.getElementById('input-status').textContent.includes('example.tsv (')", "prepare's table to be read")
    predict_and_wait(wd)
    print("run:", wd.js("return document.getElementById('run-status').textContent"))
    same_bytes_but_last_digits(table_text(wd), want, "the fp32 demo model and example.tsv picked as the user's files")


GENOME = os.path.join(ROOT, "examples", "genome.fa.gz")
GTF = os.path.join(ROOT, "examples", "genes.gtf")
VCF = os.path.join(ROOT, "examples", "variants.vcf")
# The regions of the bundled genome the page gets (as `samtools faidx` names them): every
# example transcript's 1,024-bp window lies inside them.
REGIONS = [("chr22", 20_000_001, 20_060_000), ("chr3", 43_390_001, 43_780_000)]


def write_regions(path):
    """The bundled genome's REGIONS as a region FASTA (60 bases a line)."""
    import gzip
    seqs, name, buf = {}, None, []
    with gzip.open(GENOME, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if name:
                    seqs[name] = "".join(buf)
                name, buf = line[1:].split()[0], []
            else:
                buf.append(line.strip())
    seqs[name] = "".join(buf)
    with open(path, "w") as f:
        for chrom, a, b in REGIONS:
            seq = seqs[chrom][a - 1:b]
            f.write(f">{chrom}:{a}-{b}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))


def variant_table_text(wd):
    rows = wd.js("""
        const t = document.getElementById('variant-table');
        return Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent).join('\\t'));""")
    return "".join(r + "\n" for r in rows)


def score_variants_and_wait(wd):
    wd.click("#score-variants")
    wait_for(wd, "return !document.getElementById('variant-results').hidden || !document.getElementById('variant-error').hidden", "the variant scores")


def variants(wd, cli, work):
    """examples/variants.vcf on the loaded fp32 demo model with window 1,024: the genome as a region
    FASTA and the annotation through the Variants pickers; the page's table must be the CLI's
    `score-variants` TSV on the whole bundled genome. Then a VCF whose REF is not the genome's."""
    want = cli.score_variants(DEMO, "--window", "1024", "--genome", GENOME, "--annotation", GTF, "--vcf", VCF)
    region = os.path.join(work, "regions.fa")
    write_regions(region)
    wd.js("const w = document.getElementById('variant-window'); w.value = '1024';")
    for role, path in [("genome", region), ("annotation", GTF), ("vcf", VCF)]:
        wd.send_file(f"#variant-{role}", path)
    wait_for(wd, "return document.getElementById('variant-status').textContent.startsWith('Ready:')", "the three variant files to be read")
    score_variants_and_wait(wd)
    err = wd.js("const e = document.getElementById('variant-error'); return e.hidden ? null : e.textContent")
    assert err is None, f"the page reported an error: {err}"
    print("variants:", wd.js("return document.getElementById('variant-status').textContent"))
    print("variant notes:", wd.js("return document.getElementById('variant-notes').textContent").replace("\n", " | "))
    same_bytes_but_last_digits(variant_table_text(wd), want, "examples/variants.vcf (fp32 demo model, genome region FASTA)", text_columns=11)
    with open(VCF) as f:
        lines = f.read().split("\n")
    n = next(i for i, l in enumerate(lines) if "tango2_missense" in l)
    lines[n] = lines[n].replace("\tG\tA\t", "\tT\tA\t")
    bad = os.path.join(work, "bad", "mismatch.vcf")
    with open(bad, "w") as f:
        f.write("\n".join(lines))
    wd.send_file("#variant-vcf", bad)
    wait_for(wd, "return document.getElementById('variant-status').textContent.includes('mismatch.vcf')", "the bad VCF to be read")
    score_variants_and_wait(wd)
    msg = wd.js("const e = document.getElementById('variant-error'); return e.hidden ? null : e.textContent")
    assert msg and msg.startswith(f"mismatch.vcf:{n + 1}: REF T at 22:20024326 does not match the genome, which has G there"), msg
    print(f"bad input (a REF not the genome's): {msg}")


def predict_and_wait(wd):
    wd.click("#predict")
    wait_for(wd, "return document.body.dataset.state === 'done' || !document.getElementById('error').hidden", "the prediction")
    err = wd.js("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")
    assert err is None, f"the page reported an error: {err}"


def expect_error(wd, what, starts):
    msg = wait_for(wd, "const e = document.getElementById('error'); return e.hidden ? null : e.textContent", what, timeout=120)
    assert msg.startswith(starts), f"{what}: message {msg!r} does not start with {starts!r}"
    print(f"bad input ({what}): {msg}")


def bad_inputs(wd, bad, rows, subset_fasta):
    """Each bad input gives a message naming the file (and line where there is one)."""
    with open(os.path.join(bad, "seqs.fa"), "w") as f:
        f.write(">tx1\nACGT\n")
    wd.send_file("#input-file", os.path.join(bad, "seqs.fa"))
    wait_for(wd, "return document.getElementById('input-status').textContent.includes('seqs.fa')", "the FASTA file to be read")
    wd.click("#predict")
    expect_error(wd, "a FASTA file as the table", "seqs.fa:1: header has no `transcript_id` column")
    with open(os.path.join(bad, "picture.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    wd.send_file("#input-file", os.path.join(bad, "picture.png"))
    expect_error(wd, "a binary file", "picture.png: not a text file")
    # A protein letter ESM-2 has not: the first coding transcript's second residue.
    n, r = next((n, r) for n, r in enumerate(rows, start=2) if r["protein"])
    with open(EXAMPLE) as f:
        lines = f.read().split("\n")
    lines[n - 1] = lines[n - 1].replace("\t" + r["protein"] + "\t", "\t" + r["protein"][0] + "4" + r["protein"][2:] + "\t", 1)
    with open(os.path.join(bad, "letters.tsv"), "w") as f:
        f.write("\n".join(lines))
    wd.send_file("#input-file", os.path.join(bad, "letters.tsv"))
    wait_for(wd, "return document.getElementById('input-status').textContent.includes('letters.tsv')", "the table to be read")
    wd.click("#predict")
    expect_error(wd, "an invalid protein letter", f"letters.tsv:{n}: {r['transcript_id']}: '4' is not an allowed protein letter")
    # A FASTA triplet whose RNA file holds a record the DNA file lacks.
    dna, rna, protein = subset_fasta
    stray = os.path.join(bad, "rna.fa")
    with open(rna) as f:
        text = f.read()
    with open(stray, "w") as f:
        f.write(text + ">stray\nACGU\n")
    pick_fasta(wd, dna, stray, protein)
    wd.click("#predict")
    expect_error(wd, "an RNA record without DNA", f"rna.fa:{text.count(chr(10)) + 1}: record `stray` has no DNA record in dna.fa")
    gz = os.path.join(bad, "protein.fa.gz")
    with open(protein, "rb") as src, open(gz, "wb") as f:
        import gzip
        f.write(gzip.compress(src.read()))
    wd.send_file("#fasta-protein", gz)
    expect_error(wd, "a gzip FASTA", "protein.fa.gz: gzip-compressed; decompress it first")
    with open(os.path.join(bad, "config.json"), "w") as f:
        f.write("{}")
    wd.send_file("#model-files", os.path.join(bad, "config.json"))
    expect_error(wd, "an incomplete model directory", "The model directory is incomplete: missing model.safetensors")


def main():
    dist, isoformer, screenshot = sys.argv[1:4]
    for name in MODEL_FILES:
        assert filecmp.cmp(os.path.join(dist, "example", name), os.path.join(INT8, name), shallow=False), f"{dist}/example/{name} is not models/demo-int8/{name}"
    assert filecmp.cmp(os.path.join(dist, "example", "example.tsv"), EXAMPLE, shallow=False), f"{dist}/example/example.tsv is not models/demo/example.tsv"
    server = Server(dist)
    work = tempfile.mkdtemp(prefix="isoformer-e2e.")
    cli = Cli(os.path.abspath(isoformer), work)
    rows = read_example(EXAMPLE)
    full_fasta = write_fasta_triplet(rows, os.path.join(work, "fasta"))
    # Two transcripts on WebGPU (SwiftShader): a non-coding and a coding one.
    subset_fasta = write_fasta_triplet(rows[:2], os.path.join(work, "fasta2"))
    with open(os.path.join(work, "subset.tsv"), "w") as f, open(EXAMPLE) as src:
        f.write("".join(src.readlines()[:3]))
    want_example = cli.predict(INT8, "--input", EXAMPLE)
    want_fasta = cli.predict(INT8, "--dna", full_fasta[0], "--rna", full_fasta[1], "--protein", full_fasta[2])
    want_subset = cli.predict(INT8, "--dna", subset_fasta[0], "--rna", subset_fasta[1], "--protein", subset_fasta[2])
    driver, driver_port = start_chromedriver()
    wd = WebDriver(driver_port)
    failed = True
    try:
        wd.start(os.path.join(work, "profile"))
        t0 = time.time()
        wd.call("POST", "/url", {"url": f"http://127.0.0.1:{server.port}/index.html"})
        wait_for(wd, "return document.getElementById('predict') !== null", "the page")
        # The bundled example on the CPU backend: the CLI's TSV.
        use_example(wd, "cpu")
        status = wd.js("return document.getElementById('input-status').textContent")
        assert status == f"Input: the bundled example.tsv ({len(rows)} transcripts).", status
        predict_and_wait(wd)
        print(f"time to first prediction (page load, example fetch, model load, predict on CPU): {time.time() - t0:.1f} s")
        print("run:", wd.js("return document.getElementById('run-status').textContent"))
        same_bytes_but_last_digits(table_text(wd), want_example, "the bundled example (models/demo-int8, example.tsv)")
        compare_table(wd, *read_tsv(want_example))
        # The same transcripts as a FASTA triplet.
        pick_fasta(wd, *full_fasta)
        predict_and_wait(wd)
        print("run:", wd.js("return document.getElementById('run-status').textContent"))
        same_bytes_but_last_digits(table_text(wd), want_fasta, "the example as a FASTA triplet")
        # WebGPU (the page's default): the example model again, three transcripts as FASTA. No
        # request may follow this model load.
        use_example(wd, "auto")
        mark = len(server.requests)
        wd.perf_log()  # drain
        wd.call("POST", "/se/log", {"type": "browser"})  # drain
        pick_fasta(wd, *subset_fasta)
        predict_and_wait(wd)
        print("run:", wd.js("return document.getElementById('run-status').textContent"))
        compare_table(wd, *read_tsv(want_subset))
        # Bad inputs, then the page must still work.
        bad = os.path.join(work, "bad")
        os.makedirs(bad)
        bad_inputs(wd, bad, rows, subset_fasta)
        wd.send_file("#input-file", os.path.join(work, "subset.tsv"))
        wait_for(wd, "return document.getElementById('input-status').textContent.includes('subset.tsv (')", "the two-row table to be read")
        predict_and_wait(wd)
        print("run:", wd.js("return document.getElementById('run-status').textContent"))
        compare_table(wd, *read_tsv(want_subset))
        print("the page keeps working after bad inputs")
        own_files(wd, cli)
        variants(wd, cli, work)

        after = server.requests[mark:]
        net = network_requests(wd.perf_log())
        assert not after, f"requests reached the server after the model loaded: {after}"
        assert not net, f"Chromium made network requests after the model loaded: {net}"
        # A request the CSP blocked never reaches the network log: Chromium reports it on the console.
        refused = [e["message"] for e in wd.call("POST", "/se/log", {"type": "browser"}) or []
                   if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
        assert not refused, f"the page tried requests its CSP refused: {refused}"
        print(f"requests after the model loaded: 0 (server log) and 0 (Chromium network log); {mark} before")

        png = base64.b64decode(wd.call("GET", "/screenshot"))
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        with open(screenshot, "wb") as f:
            f.write(png)
        print(f"screenshot: {screenshot}")

        # Self-check: the detector sees a deliberate fetch (past the HTTP cache, which would
        # answer it without a request once the built files are a few minutes old).
        wd.call("POST", "/execute/async", {"script": "const done = arguments[0]; fetch('example/config.json', { cache: 'no-store' }).then(() => done(1), () => done(0));", "args": []})
        probe = [p for _, p in server.requests[mark:]]
        assert probe == ["/example/config.json"], f"the detector missed a deliberate fetch: {probe}"
        assert any(u.endswith("/example/config.json") for u in network_requests(wd.perf_log())), "Chromium's log missed a deliberate fetch"
        print("self-check: a deliberate fetch after load is detected")
        failed = False
    finally:
        if failed:
            try:
                for e in wd.call("POST", "/se/log", {"type": "browser"}) or []:
                    print(f"console: {e.get('message')}")
            except Exception as e:
                print(f"(no console log: {e})")
        wd.quit()
        driver.terminate()
        driver.wait(timeout=30)
        server.httpd.shutdown()
    print("page test: ok")


if __name__ == "__main__":
    main()
