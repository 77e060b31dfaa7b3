#!/usr/bin/env python3
"""Rebuild examples/ (genome.fa.gz + .fai + .gzi, genes.gtf, SHA256SUMS) from registry packages.

Sources (see docs/DATA.md and examples/README.md):
  G5  Debian hisat2        examples/reference/22_20-21M.fa   hg19 chr22:20,000,001-21,000,000
  G6  Debian r-bioc-ballgown extdata/annot.gtf.gz            Ensembl GRCh37 chr22 annotation
  G2  Debian augustus-doc  tutorial/data/chr3.42M.fa         hg19 chr3:42,000,000-44,000,000
  G4  PyPI mmsplice==2.4.0 mmsplice/models/grch37_exons.csv.gz  GENCODE exons (no CDS)

The genome keeps hg19 coordinates: chr22 and chr3 at their full hg19 lengths, N outside the
regions the packages ship, written as BGZF (with .gzi and .fai) so it stays small and is read by
random access. Only python3's standard library is used, plus apt-get download / dpkg -x / pip
download to fetch. Output is byte-identical for the same inputs and the same zlib (the version is
printed and recorded in SHA256SUMS).

    python3 tools/make_examples.py [--work DIR]
"""

import argparse
import csv
import glob
import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib

HG19 = {"chr22": 51_304_566, "chr3": 198_022_430}
LINE = 60
GENES_G6 = ["C22orf25"]  # TANGO2's GRCh37 name: 26 isoforms with CDS
GENES_G4 = ["ABHD5", "ANO10"]  # + and - strand, exons only
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples")


def sh(*cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(work):
    os.makedirs(work, exist_ok=True)
    if not glob.glob(os.path.join(work, "hisat2_*.deb")):
        sh("apt-get", "download", "hisat2", "r-bioc-ballgown", "augustus-doc", cwd=work)
    if not glob.glob(os.path.join(work, "mmsplice-2.4.0-*.whl")):
        sh(sys.executable, "-m", "pip", "download", "--no-deps", "-d", ".", "mmsplice==2.4.0", cwd=work)
    for deb in sorted(glob.glob(os.path.join(work, "*.deb"))):
        sh("dpkg", "-x", deb, "root", cwd=work)
    inputs = sorted(glob.glob(os.path.join(work, "*.deb")) + glob.glob(os.path.join(work, "mmsplice-2.4.0-*.whl")))
    return inputs


def read_region_fasta(path):
    with open(path) as f:
        header = f.readline()
        return header.strip(), "".join(line.strip() for line in f).upper()


class Bgzf:
    """BGZF writer (SAM/BAM spec section 4.1) with a .gzi index (bgzip -i)."""

    BLOCK = 0xFF00

    def __init__(self, path):
        self.f = open(path, "wb")
        self.buf = bytearray()
        self.offsets = []  # (compressed, uncompressed) of each block start after the first
        self.coffset = 0
        self.uoffset = 0

    def write(self, data):
        self.buf += data
        while len(self.buf) >= self.BLOCK:
            self._block(bytes(self.buf[: self.BLOCK]))
            del self.buf[: self.BLOCK]

    def _block(self, data):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = c.compress(data) + c.flush()
        size = 18 + len(payload) + 8
        head = struct.pack("<BBBBIBBHBBHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 66, 67, 2, size - 1)
        tail = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))
        if self.coffset or self.uoffset:
            self.offsets.append((self.coffset, self.uoffset))
        self.f.write(head + payload + tail)
        self.coffset += size
        self.uoffset += len(data)

    def close(self, gzi_path):
        if self.buf:
            self._block(bytes(self.buf))
        # the empty EOF block
        self.f.write(bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000"))
        self.f.close()
        with open(gzi_path, "wb") as g:
            g.write(struct.pack("<Q", len(self.offsets)))
            for c, u in self.offsets:
                g.write(struct.pack("<QQ", c, u))


def write_genome(regions):
    """regions: {name: (start1, seq)}; writes genome.fa.gz, .fai, .gzi."""
    path = os.path.join(OUT, "genome.fa.gz")
    out = Bgzf(path)
    fai = []
    offset = 0
    for name in ["chr3", "chr22"]:
        start1, seq = regions[name]
        length = HG19[name]
        header = f">{name}\n".encode()
        out.write(header)
        offset += len(header)
        fai.append(f"{name}\t{length}\t{offset}\t{LINE}\t{LINE + 1}\n")
        before = start1 - 1
        full_lines_n = b"N" * LINE + b"\n"
        pos = 0
        # N up to the region, the region, N after it; lines of LINE bases.
        def lines():
            nonlocal pos
            while pos < length:
                n = min(LINE, length - pos)
                if pos + n <= before or pos >= before + len(seq):
                    yield full_lines_n if n == LINE else b"N" * n + b"\n"
                else:
                    line = bytearray()
                    for p in range(pos, pos + n):
                        i = p - before
                        line.append(ord(seq[i]) if 0 <= i < len(seq) else ord("N"))
                    yield bytes(line) + b"\n"
                pos += n
        batch = bytearray()
        for line in lines():
            batch += line
            if len(batch) > 1 << 20:
                out.write(bytes(batch))
                offset += len(batch)
                batch.clear()
        out.write(bytes(batch))
        offset += len(batch)
    out.close(path + ".gzi")
    with open(path + ".fai", "w") as f:
        f.writelines(fai)


def write_gtf(work):
    annot = os.path.join(work, "root/usr/lib/R/site-library/ballgown/extdata/annot.gtf.gz")
    lines = []
    with gzip.open(annot, "rt") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 9 and any(f"gene_name {g};" in cols[8] for g in GENES_G6):
                lines.append(line)
    whl = glob.glob(os.path.join(work, "mmsplice-2.4.0-*.whl"))[0]
    with zipfile.ZipFile(whl) as z:
        raw = gzip.decompress(z.read("mmsplice/models/grch37_exons.csv.gz")).decode()
    rows = [r for r in csv.DictReader(io.StringIO(raw)) if r["Chromosome"] == "chr3" and r["gene_name"] in GENES_G4]
    # Start/End include the overhangs (DATA.md, G4): the exon is [Start+left, End-right], 1-based.
    exons = sorted({(r["gene_name"], r["transcript_id"], int(r["Start"]) + int(r["left_overhang"]), int(r["End"]) - int(r["right_overhang"]), r["Strand"], r["gene_id"]) for r in rows})
    for gname, tid, s, e, strand, gid in exons:
        lines.append(f'chr3\tmmsplice_grch37\texon\t{s}\t{e}\t.\t{strand}\t.\tgene_id "{gid}"; transcript_id "{tid}"; gene_name "{gname}";\n')
    with open(os.path.join(OUT, "genes.gtf"), "w") as f:
        f.write("# Built by tools/make_examples.py: Ensembl GRCh37 (r-bioc-ballgown annot.gtf.gz) for C22orf25/TANGO2,\n")
        f.write("# GENCODE GRCh37 exons (mmsplice 2.4.0 grch37_exons.csv.gz, overhangs removed) for ABHD5 and ANO10.\n")
        f.writelines(lines)


CODE = dict(zip([a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"],
                "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"))


def revcomp(s):
    return s[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


def write_expected(seqs, window=80, rna_tokens=2048, protein_tokens=1024):
    """An independent computation of prepare's dna/rna/protein for every example transcript
    (window 80 = models/tiny), for the CLI test to compare against."""
    tx = {}
    for line in open(os.path.join(OUT, "genes.gtf")):
        if line.startswith("#"):
            continue
        c = line.rstrip("\n").split("\t")
        if c[2] not in ("exon", "CDS", "stop_codon"):
            continue
        tid = c[8].split("transcript_id ")[1].split(";")[0].strip('"')
        t = tx.setdefault(tid, {"chrom": "chr" + c[0].removeprefix("chr"), "strand": c[6], "exon": [], "cds": []})
        t["exon" if c[2] == "exon" else "cds"].append((int(c[3]), int(c[4]), 0 if c[7] == "." else int(c[7])))
    rows = []
    for tid, t in tx.items():
        g = seqs[t["chrom"]]
        ex = sorted(t["exon"])
        if t["strand"] == "+":
            tss = ex[0][0]  # 1-based
            lo = tss - window // 2  # 1-based first window base
        else:
            tss = ex[-1][1]
            lo = tss + window // 2 - window + 1
        dna = "".join(g[p - 1] if 1 <= p <= len(g) else "N" for p in range(lo, lo + window))
        rna = "".join(g[a - 1:b] for a, b, _ in ex)
        cds = sorted(t["cds"])
        coding = "".join(g[a - 1:b] for a, b, _ in cds)
        phase = (cds[0][2] if t["strand"] == "+" else cds[-1][2]) if cds else 0
        if t["strand"] == "-":
            dna, rna, coding = revcomp(dna), revcomp(rna), revcomp(coding)
        protein = ""
        if coding:
            body = coding[phase:]
            aa = "".join(CODE.get(body[i:i + 3], "X") for i in range(0, len(body) - len(body) % 3, 3))
            if aa.endswith("*") and len(body) % 3 == 0:
                aa = aa[:-1]
            protein = "" if len(body) % 3 or "*" in aa else aa[: protein_tokens - 2]
        assert "N" not in rna
        tokens = len(rna) // 6 + len(rna) % 6
        if tokens > rna_tokens - 1:
            rna = rna[6 * (tokens - (rna_tokens - 1)):]
        rows.append(f"{tid}\t{dna}\t{rna}\t{protein}\n")
    with open(os.path.join(OUT, "expected_w80.tsv"), "w") as f:
        f.write("transcript_id\tdna\trna\tprotein\n")
        f.writelines(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/isoformer-examples-work")
    a = ap.parse_args()
    inputs = fetch(a.work)
    os.makedirs(OUT, exist_ok=True)
    h22, s22 = read_region_fasta(os.path.join(a.work, "root/usr/share/doc/hisat2/examples/reference/22_20-21M.fa"))
    h3, s3 = read_region_fasta(os.path.join(a.work, "root/usr/share/doc/augustus/tutorial/data/chr3.42M.fa"))
    assert h22 == ">22:20000001-21000000" and len(s22) == 1_000_000, (h22, len(s22))
    assert h3 == ">chr3 42000000 44000000" and len(s3) == 2_000_001, (h3, len(s3))
    write_genome({"chr22": (20_000_001, s22), "chr3": (42_000_000, s3)})
    write_gtf(a.work)
    write_expected({
        "chr22": "N" * 20_000_000 + s22 + "N" * (HG19["chr22"] - 21_000_000),
        "chr3": "N" * 41_999_999 + s3 + "N" * (HG19["chr3"] - 44_000_000),
    })
    with open(os.path.join(OUT, "SHA256SUMS"), "w") as f:
        f.write(f"# zlib {zlib.ZLIB_VERSION}; inputs:\n")
        for p in inputs:
            f.write(f"# {sha256(p)}  {os.path.basename(p)}\n")
        for name in ["genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi", "genes.gtf", "expected_w80.tsv"]:
            f.write(f"{sha256(os.path.join(OUT, name))}  {name}\n")
    print(open(os.path.join(OUT, "SHA256SUMS")).read(), end="")


if __name__ == "__main__":
    main()
