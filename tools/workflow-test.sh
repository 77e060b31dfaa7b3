#!/usr/bin/env bash
# The Snakemake workflow (workflow/) on the bundled examples with the demo model and 3 shards:
# the merged predictions must equal one unsharded `prepare` + `predict` byte for byte, and the
# merged scores of examples/variants.vcf one unsharded `score-variants`; then a
# run killed after its first predict shard finished is rerun, and only the other shards may run.
# Snakemake (8 or newer) is installed from PyPI into a virtual environment outside the clone
# (ISOFORMER_SNAKEMAKE_VENV, default ~/.cache/isoformer/snakemake-venv), once; without a network
# to install it from, the test prints a SKIPPED line and passes.
# Usage: tools/workflow-test.sh [ISOFORMER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/isoformer}")
venv="${ISOFORMER_SNAKEMAKE_VENV:-$HOME/.cache/isoformer/snakemake-venv}"
t0=$(date +%s)

snakemake_ok() { [ -x "$venv/bin/snakemake" ] && "$venv/bin/python" -c 'import snakemake, sys; sys.exit(int(snakemake.__version__.split(".")[0]) < 8)' 2>/dev/null; }
if ! snakemake_ok; then
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q snakemake snakemake-executor-plugin-slurm; then
    if ! "$venv/bin/pip" download -q --no-deps -d "$(mktemp -d)" pip >/dev/null 2>&1; then
      echo "SKIPPED workflow test: pip cannot reach a package index to install snakemake"
      exit 0
    fi
    echo "workflow test: pip install snakemake failed (the index is reachable)" >&2
    exit 1
  fi
fi
snakemake="$venv/bin/snakemake"
echo "workflow test: snakemake $("$snakemake" --version) in $venv"

work=$(mktemp -d /tmp/isoformer-workflow.XXXXXX)
trap 'rm -rf "$work"' EXIT
run() {  # run RESULTS ISOFORMER [snakemake options...]
  local results=$1 iso=$2; shift 2
  "$snakemake" -s "$root/workflow/Snakefile" --directory "$work" --cores 4 --set-threads predict=1 \
    --config isoformer="$iso" genome="$root/examples/genome.fa.gz" annotation="$root/examples/genes.gtf" \
    model="$root/models/demo" window=1024 shards=3 results="$results" "$@"
}

# The unsharded run, by hand.
"$bin" prepare --genome examples/genome.fa.gz --annotation examples/genes.gtf --all --model models/demo --window 1024 -o "$work/prepared.tsv"
"$bin" predict --model models/demo --input "$work/prepared.tsv" -o "$work/unsharded.tsv" --quiet
"$bin" score-variants --model models/demo --genome examples/genome.fa.gz --annotation examples/genes.gtf --vcf examples/variants.vcf --window 1024 -o "$work/unsharded-variants.tsv" --quiet

# 1. The workflow, 3 shards, with the bundled VCF.
run "$work/a" "$bin" vcf="$root/examples/variants.vcf" > "$work/a.log" 2>&1 || { cat "$work/a.log" >&2; exit 1; }
cmp "$work/a/predictions.tsv" "$work/unsharded.tsv" || { echo "workflow test: the merged predictions differ from the unsharded run" >&2; exit 1; }
cmp "$work/a/variants.tsv" "$work/unsharded-variants.tsv" || { echo "workflow test: the merged variant scores differ from the unsharded score-variants" >&2; exit 1; }
for k in 1 2 3; do [ -s "$work/a/predictions/$k.tsv.json" ] || { echo "workflow test: shard $k has no provenance" >&2; exit 1; }; done
[ -s "$work/a/summary.tsv" ] && [ -s "$work/a/heatmap.svg" ]
echo "workflow test: 3 shards merged = the unsharded predict and score-variants, byte for byte ($(( $(wc -l < "$work/unsharded.tsv") - 1 )) transcripts, $(( $(wc -l < "$work/unsharded-variants.tsv") - 1 )) variant-transcript pairs)"

# 2. Kill and resume. A wrapper holds every predict but shard 1's until $work/hold goes away; the
# run is killed (SIGKILL, the whole process group) once shard 1 is written and shards 2 and 3
# are running.
cat > "$work/held-isoformer" <<WRAP
#!/usr/bin/env bash
if [ "\$2" = predict ] && [ -e "$work/hold" ] && [[ " \$* " != *" $work/b/prepared/1.tsv.gz "* ]]; then
  touch "$work/holding.\$\$"
  while [ -e "$work/hold" ]; do sleep 0.1; done
fi
exec "$bin" "\$@"
WRAP
chmod +x "$work/held-isoformer"
touch "$work/hold"
setsid bash -c "$(declare -f run); snakemake='$snakemake' root='$root' work='$work'; run '$work/b' '$work/held-isoformer'" > "$work/b1.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ -s "$work/b/predictions/1.tsv" ] && [ "$(ls "$work"/holding.* 2>/dev/null | wc -l)" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -s "$work/b/predictions/1.tsv" ] && [ "$(ls "$work"/holding.* 2>/dev/null | wc -l)" -ge 2 ] || { cat "$work/b1.log" >&2; echo "workflow test: the held run did not reach shards 2 and 3" >&2; kill -9 -- -"$pid" 2>/dev/null; exit 1; }
kill -9 -- -"$pid"
{ wait "$pid"; } 2>/dev/null || true
rm -f "$work/hold"
[ ! -e "$work/b/predictions.tsv" ] && [ ! -e "$work/b/predictions/2.tsv" ] && [ ! -e "$work/b/predictions/3.tsv" ] || { echo "workflow test: the killed run left outputs of unfinished jobs" >&2; exit 1; }
before=$(stat -c '%i %Y %s' "$work/b/predictions/1.tsv" "$work/b"/prepared/*.tsv.gz)
# A killed Snakemake leaves its lock: --unlock, then the same command again.
run "$work/b" "$bin" --unlock > "$work/b2.log" 2>&1 || { cat "$work/b2.log" >&2; exit 1; }
run "$work/b" "$bin" --rerun-incomplete > "$work/b2.log" 2>&1 || { cat "$work/b2.log" >&2; exit 1; }
ran=$(grep -A6 '^localrule predict:' "$work/b2.log" | grep -o 'wildcards: k=[0-9]*' | sort | tr '\n' ' ')
[ "$ran" = "wildcards: k=2 wildcards: k=3 " ] || { cat "$work/b2.log" >&2; echo "workflow test: the rerun ran predict for [$ran], expected shards 2 and 3 only" >&2; exit 1; }
! grep -q '^localrule prepare:' "$work/b2.log" || { echo "workflow test: the rerun prepared again" >&2; exit 1; }
[ "$before" = "$(stat -c '%i %Y %s' "$work/b/predictions/1.tsv" "$work/b"/prepared/*.tsv.gz)" ] || { echo "workflow test: finished shards were rewritten" >&2; exit 1; }
cmp "$work/b/predictions.tsv" "$work/unsharded.tsv" || { echo "workflow test: the resumed run's merged predictions differ" >&2; exit 1; }
echo "workflow test: killed after shard 1 of 3, the rerun predicted shards 2 and 3 only, merged = unsharded"
echo "workflow test: $(( $(date +%s) - t0 )) s"
