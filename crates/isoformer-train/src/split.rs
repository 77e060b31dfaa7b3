//! Gene-disjoint splits: every gene's transcripts land in one split, so a model is never
//! evaluated on isoforms of genes it was trained on.

/// A splitmix64 stream: the project's seeded generator (the same mixer as
/// `isoformer_model::weights::SeededSource`), so splits and shuffles depend on the seed alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitMix64 {
    pub state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for the sizes here).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32) * n as u64 >> 32) as usize
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Fractions that do not describe a split.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("no fractions")]
    NoFractions,
    #[error("fraction {0} is not a non-negative number")]
    BadFraction(f64),
    #[error("fractions sum to {0}, not 1")]
    Sum(f64),
}

/// Assign each gene to a split: genes (sorted, then shuffled with `seed`) are taken one by one
/// and given to the split furthest below its share of transcripts (ties: the earlier split).
/// Returns the split index of every row (`genes[i]` is row `i`'s gene).
pub fn split_by_gene(genes: &[String], fractions: &[f64], seed: u64) -> Result<Vec<usize>, SplitError> {
    if fractions.is_empty() {
        return Err(SplitError::NoFractions);
    }
    if let Some(&f) = fractions.iter().find(|f| !(f.is_finite() && **f >= 0.0)) {
        return Err(SplitError::BadFraction(f));
    }
    let total: f64 = fractions.iter().sum();
    if (total - 1.0).abs() > 1e-6 {
        return Err(SplitError::Sum(total));
    }
    let mut distinct: Vec<&str> = genes.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut sizes: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for g in genes {
        *sizes.entry(g.as_str()).or_default() += 1;
    }
    let mut rng = SplitMix64::new(seed);
    rng.shuffle(&mut distinct);
    let n = genes.len() as f64;
    let mut filled = vec![0usize; fractions.len()];
    let mut of_gene: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for g in distinct {
        // the split with the largest remaining deficit (target − filled), among those with a share
        let k = (0..fractions.len())
            .filter(|&k| fractions[k] > 0.0)
            .max_by(|&a, &b| {
                let da = fractions[a] * n - filled[a] as f64;
                let db = fractions[b] * n - filled[b] as f64;
                da.total_cmp(&db).then(b.cmp(&a))
            })
            .expect("a split with a positive fraction");
        filled[k] += sizes[g];
        of_gene.insert(g, k);
    }
    Ok(genes.iter().map(|g| of_gene[g.as_str()]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genes(n_genes: usize) -> Vec<String> {
        // gene i has 1 + i % 4 isoforms
        (0..n_genes).flat_map(|i| std::iter::repeat_n(format!("G{i}"), 1 + i % 4)).collect()
    }

    #[test]
    fn no_gene_in_two_splits_and_shares_close_to_fractions() {
        let g = genes(200);
        let s = split_by_gene(&g, &[0.8, 0.1, 0.1], 7).unwrap();
        let mut home = std::collections::HashMap::new();
        for (gene, &k) in g.iter().zip(&s) {
            assert_eq!(*home.entry(gene).or_insert(k), k, "{gene} in two splits");
        }
        let n = g.len() as f64;
        for (k, f) in [0.8, 0.1, 0.1].iter().enumerate() {
            let share = s.iter().filter(|&&x| x == k).count() as f64 / n;
            assert!((share - f).abs() < 0.02, "split {k}: {share} vs {f}");
        }
    }

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let g = genes(100);
        assert_eq!(split_by_gene(&g, &[0.8, 0.1, 0.1], 1).unwrap(), split_by_gene(&g, &[0.8, 0.1, 0.1], 1).unwrap());
        assert_ne!(split_by_gene(&g, &[0.8, 0.1, 0.1], 1).unwrap(), split_by_gene(&g, &[0.8, 0.1, 0.1], 2).unwrap());
    }

    #[test]
    fn row_order_does_not_matter() {
        let g = genes(50);
        let mut rev = g.clone();
        rev.reverse();
        let a = split_by_gene(&g, &[0.5, 0.5], 3).unwrap();
        let b = split_by_gene(&rev, &[0.5, 0.5], 3).unwrap();
        let home = |gs: &[String], s: &[usize]| gs.iter().cloned().zip(s.iter().copied()).collect::<std::collections::HashMap<_, _>>();
        assert_eq!(home(&g, &a), home(&rev, &b));
    }

    #[test]
    fn bad_fractions_are_refused() {
        assert!(matches!(split_by_gene(&genes(3), &[0.5, 0.6], 0), Err(SplitError::Sum(t)) if (t - 1.1).abs() < 1e-12));
        assert_eq!(split_by_gene(&genes(3), &[-0.5, 1.5], 0), Err(SplitError::BadFraction(-0.5)));
        assert_eq!(split_by_gene(&genes(3), &[], 0), Err(SplitError::NoFractions));
    }
}
