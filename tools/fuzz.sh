#!/usr/bin/env bash
# Fuzz the project's parsers with libFuzzer (cargo fuzz), two targets at a time (2 cores).
#   bash tools/fuzz.sh [SECONDS [TARGET...]]   # default 600 s per target, every target
# Targets: checkpoint_reader, safetensors_header (checkpoint reader), fasta, gtf, gff3
# (isoformer-bio), config_json (isoformer-model), input_tsv (isoformer-pipeline), vcf (isoformer-bio's
# variants: the VCF reader and score-variants' contract on a small genome).
# Stable Rust: no sanitizer (-s none), RUSTC_BOOTSTRAP=1 for cargo-fuzz's -Z flags, overflow
# checks on (-a). Corpora are seeded from the project's own files and kept in fuzz/corpus/ (not
# committed); each target's log is target-fuzz-TARGET.log, crashes go to fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
all=(checkpoint_reader safetensors_header fasta gtf gff3 config_json input_tsv vcf)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# The workspace's lock pins the versions the fuzz crate shares with it (burn, flate2, ...).
[ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock

seed() {
  local t=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  case $t in
    checkpoint_reader) cp tests/fixtures/hub/*.bin tests/fixtures/hub/*.pkl "$dir/" ;;
    safetensors_header) cp tests/fixtures/tokenizers.safetensors "$dir/" ;;
    fasta)
      # Pieces of the example genome: the start of chr3 (N runs), chr22's start, both records
      # together, and a soft-masked copy.
      local chr22
      chr22=$(zcat examples/genome.fa.gz | grep -n '^>' | sed -n 2p | cut -d: -f1)
      # (head closes the pipe early: zcat's SIGPIPE is expected.)
      zcat examples/genome.fa.gz | head -n 40 > "$dir/chr3_start.fa" || true
      zcat examples/genome.fa.gz | tail -n +"$chr22" | head -n 40 > "$dir/chr22_start.fa" || true
      cat "$dir/chr3_start.fa" "$dir/chr22_start.fa" > "$dir/two_records.fa"
      tr 'ACGT' 'acgt' < "$dir/chr22_start.fa" | sed 's/^>chr22/>chr22 soft-masked/' > "$dir/soft_masked.fa" ;;
    gtf)
      # The example annotation in 50-line pieces, and a copy moved onto a 300-base chr1 so that
      # transcripts reach the target's small genome.
      split -l 50 -d examples/genes.gtf "$dir/genes_"
      awk 'BEGIN { FS = OFS = "\t" } /^#/ { next }
        { $1 = "chr1"; len = ($5 - $4) % 40; $4 = $4 % 250 + 1; $5 = $4 + len; print; if (++n == 60) exit }' \
        examples/genes.gtf > "$dir/small.gtf" ;;
    gff3)
      # The example GTF written as Ensembl-style GFF3 (gene -> mRNA -> exon/CDS), in pieces.
      awk 'BEGIN { FS = OFS = "\t"; print "##gff-version 3" } /^#/ { next }
        { match($9, /gene_id "?[^";]+/); g = substr($9, RSTART + 8, RLENGTH - 8); gsub(/"/, "", g)
          match($9, /transcript_id "?[^";]+/); t = substr($9, RSTART + 14, RLENGTH - 14); gsub(/"/, "", t)
          if (!(g in genes)) { genes[g] = 1; print $1, $2, "gene", $4, $5, ".", $7, ".", "ID=gene:" g ";gene_id=" g ";Name=N%3B" g }
          if (!(t in tx)) { tx[t] = 1; print $1, $2, "mRNA", $4, $5, ".", $7, ".", "ID=transcript:" t ";Parent=gene:" g ";transcript_id=" t }
          if ($3 == "exon" || $3 == "CDS") print $1, $2, $3, $4, $5, ".", $7, $8, "Parent=transcript:" t }' \
        examples/genes.gtf > "$dir/genes.gff3"
      split -l 60 -d "$dir/genes.gff3" "$dir/genes_gff3_" ;;
    config_json) for f in models/*/config.json tools/demo/config.json tests/fixtures/hub/tiny/config.json; do cp "$f" "$dir/$(echo "$f" | tr / _)"; done ;;
    vcf)
      # The bundled examples' VCF, and records on the target's small chr1/chr2 (every class:
      # SNVs, indels at and around exon edges and the TSSs, multi-ALT, symbolic, breakends).
      cp examples/variants.vcf "$dir/"
      printf '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n%s\n' \
        "$(printf 'chr1\t10\ta\tT\tG,TA\t.\t.\t.\nchr1\t29\tb\tT\tC\t.\t.\t.\nchr1\t59\tc\tGGA\tG\t.\t.\t.\nchr1\t98\td\tC\t<DEL>,*\t.\t.\t.\n1\t200\te\tA\tAAAA\t.\t.\t.\nchr1\t240\tf\tT\tT[chr1:5[\t.\t.\t.\nchr2\t5\tg\tN\tA\t.\t.\t.\nchr1\t28\th\tATG\tA\t.\t.\t.')" > "$dir/small.vcf" ;;
    input_tsv)
      cp models/tiny/example.tsv "$dir/"
      head -n 12 examples/expected_w80.tsv > "$dir/expected_w80_head.tsv" ;;
  esac
}

for t in "${targets[@]}"; do
  seed "$t"
  (cd fuzz && cargo fuzz build -s none --release -a "$t")
done
run() {
  local t=$1
  (cd fuzz && cargo fuzz run -s none --release -a "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
     > "../target-fuzz-$t.log" 2>&1; echo "$t exit $?" >> "../target-fuzz-$t.log")
}
for t in "${targets[@]}"; do
  run "$t" &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
done
wait
for t in "${targets[@]}"; do
  echo "== $t"; grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs|exit|panicked|ERROR" "target-fuzz-$t.log" | tail -4
done
