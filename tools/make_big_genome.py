#!/usr/bin/env python3
"""A whole-chromosome-sized synthetic genome and annotation, to measure `isoformer prepare`.

    python3 tools/make_big_genome.py OUTDIR [--length 200000000] [--genes 1000] [--seed 1]

writes, in OUTDIR (python3 standard library only; nothing here is committed, ~330 MB):
- genome.fa            one sequence `chrS` of --length random bases (60 a line, soft-masked
                       stretches in lower case, a few runs of N) and genome.fa.fai;
- genome.fa.bgz        the same, BGZF-compressed (blocks of 65,280 bytes, as bgzip cuts them),
                       with genome.fa.bgz.fai and genome.fa.bgz.gzi (bgzip -i layout);
- genome.fa.gz         the same, plain gzip (read whole by `prepare`);
- genes.gtf            --genes genes on both strands, 1 to 6 isoforms each (some sharing a TSS),
                       1 to 12 exons, a CDS on most isoforms, sorted by position.
The same arguments give the same bytes (seeded random.Random; zlib level 6).
"""

import argparse
import gzip
import os
import random
import struct
import zlib

LINE = 60
BGZF_BLOCK = 65280  # bgzip's uncompressed block size


def sequence(rng, length):
    """Random bases: ACGT, lower-case stretches (soft-masking), a few N runs."""
    table = bytes(b"ACGT"[i % 4] for i in range(256))
    seq = bytearray(rng.randbytes(length).translate(table))
    for _ in range(length // 2_000_000):
        start = rng.randrange(0, length - 50_000)
        end = start + rng.randrange(1_000, 50_000)
        seq[start:end] = seq[start:end].lower()
    for _ in range(length // 20_000_000):
        start = rng.randrange(0, length - 100_000)
        n = rng.randrange(10_000, 100_000)
        seq[start:start + n] = b"N" * n
    return bytes(seq)


def fasta_bytes(name, seq):
    out = bytearray(b">" + name.encode() + b" synthetic\n")
    offset = len(out)
    for i in range(0, len(seq), LINE):
        out += seq[i:i + LINE] + b"\n"
    return bytes(out), f"{name}\t{len(seq)}\t{offset}\t{LINE}\t{LINE + 1}\n"


def bgzf_block(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = c.compress(data) + c.flush()
    bsize = 18 + len(deflated) + 8 - 1
    header = struct.pack("<4BIBBHBBHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, ord("B"), ord("C"), 2, bsize)
    return header + deflated + struct.pack("<II", zlib.crc32(data), len(data))


def write_bgzf(path, data):
    """BGZF with its .gzi: (compressed, uncompressed) offsets of every block but the first."""
    entries = []
    with open(path, "wb") as f:
        compressed = 0
        for start in range(0, len(data), BGZF_BLOCK):
            if start:
                entries.append((compressed, start))
            block = bgzf_block(data[start:start + BGZF_BLOCK])
            f.write(block)
            compressed += len(block)
        f.write(bgzf_block(b""))  # the EOF marker block
    with open(path + ".gzi", "wb") as f:
        f.write(struct.pack("<Q", len(entries)))
        for c, u in entries:
            f.write(struct.pack("<QQ", c, u))


def annotation(rng, chrom, length, genes):
    """GTF lines: exons, CDS (most isoforms), sorted by start."""
    lines = []
    for g in range(genes):
        gene_id = f"GS{g:06d}"
        strand = rng.choice("+-")
        anchor = rng.randrange(400_000, length - 400_000)
        shared_tss = anchor
        for t in range(rng.randint(1, 6)):
            tss = shared_tss if rng.random() < 0.4 else anchor + rng.randrange(0, 5_000)
            exons = []
            pos = tss
            for _ in range(rng.randint(1, 12)):
                size = rng.randrange(50, 400)
                exons.append((pos, pos + size - 1))
                pos += size + rng.randrange(100, 20_000)
            if strand == "-":
                # Same layout mirrored: the TSS is the last base of the first exon.
                exons = [(2 * tss - e, 2 * tss - s) for s, e in exons]
            exons.sort()
            tid = f"TS{g:06d}.{t + 1}"
            attrs = f'gene_id "{gene_id}"; transcript_id "{tid}"; gene_name "SYN{g}";'
            for s, e in exons:
                lines.append((s, f"{chrom}\tsynthetic\texon\t{s}\t{e}\t.\t{strand}\t.\t{attrs}\n"))
            if rng.random() < 0.8:
                total = sum(e - s + 1 for s, e in exons)
                skip = rng.randrange(0, max(1, total // 4))
                take = (total - skip) // 3 * 3
                # CDS pieces inside the exons, `skip` bases after the transcript's 5' end.
                ordered = exons if strand == "+" else exons[::-1]
                left, done = skip, 0
                for s, e in ordered:
                    size = e - s + 1
                    if left >= size:
                        left -= size
                        continue
                    use = min(size - left, take - done)
                    if use <= 0:
                        break
                    cs, ce = (s + left, s + left + use - 1) if strand == "+" else (e - left - use + 1, e - left)
                    phase = (3 - done % 3) % 3
                    lines.append((cs, f"{chrom}\tsynthetic\tCDS\t{cs}\t{ce}\t.\t{strand}\t{phase}\t{attrs}\n"))
                    done += use
                    left = 0
    lines.sort(key=lambda x: x[0])
    return "".join(l for _, l in lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir")
    p.add_argument("--length", type=int, default=200_000_000)
    p.add_argument("--genes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = random.Random(a.seed)
    seq = sequence(rng, a.length)
    data, fai = fasta_bytes("chrS", seq)
    out = lambda name: os.path.join(a.outdir, name)
    with open(out("genome.fa"), "wb") as f:
        f.write(data)
    for name in ("genome.fa.fai", "genome.fa.bgz.fai"):
        with open(out(name), "w") as f:
            f.write(fai)
    write_bgzf(out("genome.fa.bgz"), data)
    with open(out("genome.fa.gz"), "wb") as f:
        f.write(gzip.compress(data, compresslevel=6, mtime=0))
    gtf = annotation(rng, "chrS", a.length, a.genes)
    with open(out("genes.gtf"), "w") as f:
        f.write(gtf)
    transcripts = len({l.split('transcript_id "')[1].split('"')[0] for l in gtf.splitlines()})
    print(f"{a.outdir}: chrS {a.length} bp, {a.genes} genes, {transcripts} transcripts")


if __name__ == "__main__":
    main()
