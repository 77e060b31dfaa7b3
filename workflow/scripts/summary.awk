# Per output column of a prediction TSV (isoformer predict / merge): transcripts, mean, standard
# deviation, minimum, maximum. The first columns (transcript_id, gene_id) are skipped by name.
BEGIN { FS = OFS = "\t" }
NR == 1 {
    first = ($2 == "gene_id") ? 3 : 2
    for (j = first; j <= NF; j++) name[j] = $j
    last = NF
    next
}
{
    n++
    for (j = first; j <= last; j++) {
        v = $j + 0; s[j] += v; q[j] += v * v
        if (n == 1 || v < lo[j]) lo[j] = v
        if (n == 1 || v > hi[j]) hi[j] = v
    }
}
END {
    print "output", "transcripts", "mean", "sd", "min", "max"
    for (j = first; j <= last; j++) {
        m = n ? s[j] / n : 0
        var = n > 1 ? (q[j] - n * m * m) / (n - 1) : 0
        printf "%s\t%d\t%.6f\t%.6f\t%.6f\t%.6f\n", name[j], n, m, (var > 0 ? sqrt(var) : 0), lo[j], hi[j]
    }
}
