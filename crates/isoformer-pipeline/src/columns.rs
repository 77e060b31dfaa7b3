//! Column names, written once.

/// What `isoformer prepare` writes, in order.
pub const PREPARED: [&str; 10] = ["transcript_id", "gene_id", "gene_name", "chrom", "strand", "tss", "dna", "rna", "protein", "flags"];

/// What `predict` needs from a TSV (any order; other columns are ignored).
pub const INPUT: [&str; 4] = [TRANSCRIPT_ID, "dna", "rna", "protein"];

pub const TRANSCRIPT_ID: &str = "transcript_id";
pub const GENE_ID: &str = "gene_id";
