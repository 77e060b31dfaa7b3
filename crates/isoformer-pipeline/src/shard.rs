//! Shards of a genome-wide run (`--shard K/N`): a deterministic partition of a run's rows that
//! keeps every transcript sharing a DNA window in one shard (so Enformer still runs once per
//! window), balances shards by windows, and takes any N; and the merge plan that puts shard
//! outputs back in the unsharded order, refusing missing, duplicate or overlapping shards.
//!
//! Pure functions over keys and row numbers: `prepare` keys rows by window coordinates,
//! `predict` (and any later per-transcript command, such as variant scoring) by the DNA itself;
//! the CLI does the I/O.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// Shard `index` (1-based) of `count`, as `--shard K/N` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Why `--shard` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?}: expected K/N, two whole numbers with 1 <= K <= N (e.g. 3/8)")]
    Syntax(String),
    #[error("--shard {index}/{count}: K must be between 1 and N={count}")]
    OutOfRange { index: usize, count: usize },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(syntax)?;
        let number = |t: &str| if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) { t.parse::<usize>().map_err(|_| syntax()) } else { Err(syntax()) };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 {
            return Err(syntax());
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The 0-based shard of each row, for `count` shards. Rows with equal keys (one DNA window) form
/// a group; groups are numbered in order of first appearance and group `g` of `G` goes to shard
/// `g * count / G`: contiguous runs of groups, shard sizes in windows differing by at most one
/// (more shards than windows leaves some empty). Depends only on the keys' equality pattern.
pub fn assign<K: Eq + Hash>(keys: &[K], count: usize) -> Vec<usize> {
    assert!(count >= 1, "at least one shard");
    let mut groups: HashMap<&K, usize> = HashMap::new();
    let group_of: Vec<usize> = keys
        .iter()
        .map(|k| {
            let next = groups.len();
            *groups.entry(k).or_insert(next)
        })
        .collect();
    let total = groups.len().max(1);
    group_of.into_iter().map(|g| g * count / total).collect()
}

/// Rows joined into groups by either of two keys: rows sharing a `first` key or a `second` key
/// (transitively) get one group number, numbered in order of first appearance. `score-variants`
/// joins DNA windows by gene (a variant's expression shares need every isoform of its gene), so
/// that [`assign`] over the groups keeps a window and a gene in one shard.
pub fn joined<A: Eq + Hash, B: Eq + Hash>(first: &[A], second: &[B]) -> Vec<usize> {
    assert_eq!(first.len(), second.len(), "one pair of keys per row");
    // Union-find over rows: each row joins the first row seen with either of its keys.
    let mut parent: Vec<usize> = (0..first.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let (mut by_first, mut by_second): (HashMap<&A, usize>, HashMap<&B, usize>) = (HashMap::new(), HashMap::new());
    for i in 0..first.len() {
        for other in [*by_first.entry(&first[i]).or_insert(i), *by_second.entry(&second[i]).or_insert(i)] {
            let (a, b) = (root(&mut parent, i), root(&mut parent, other));
            // The smaller row is the root, so a group's root is its first row.
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut number: HashMap<usize, usize> = HashMap::new();
    (0..first.len())
        .map(|i| {
            let r = root(&mut parent, i);
            let next = number.len();
            *number.entry(r).or_insert(next)
        })
        .collect()
}

/// The rows (0-based, increasing) of `shard`, by [`assign`].
pub fn rows<K: Eq + Hash>(keys: &[K], shard: Shard) -> Vec<usize> {
    assign(keys, shard.count).into_iter().enumerate().filter(|&(_, s)| s + 1 == shard.index).map(|(i, _)| i).collect()
}

/// Increasing row numbers as half-open `[start, end)` runs (what provenance records: a shard of
/// consecutive windows is a handful of runs, whatever its size).
pub fn to_runs(rows: &[usize]) -> Vec<[usize; 2]> {
    let mut runs: Vec<[usize; 2]> = Vec::new();
    for &r in rows {
        match runs.last_mut() {
            Some(last) if last[1] == r => last[1] += 1,
            _ => runs.push([r, r + 1]),
        }
    }
    runs
}

/// The row numbers of runs, in order.
pub fn from_runs(runs: &[[usize; 2]]) -> Vec<usize> {
    runs.iter().flat_map(|&[a, b]| a..b).collect()
}

/// What one shard output says about itself, for [`merge_plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRows {
    pub shard: Shard,
    /// Rows of the unsharded run, in the order the shard output holds them.
    pub rows: Vec<usize>,
    /// Rows of the unsharded run.
    pub total: usize,
}

/// Why shard outputs cannot be merged. Shards are named by their position in the list given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no shards to merge")]
    Empty,
    #[error("{name} is shard {shard} but {first} is of {count} shards")]
    Count { name: String, shard: Shard, first: String, count: usize },
    #[error("{name} and {other} are both shard {shard}")]
    Duplicate { name: String, other: String, shard: Shard },
    #[error("missing shard{} {} of {count}", if .missing.len() > 1 { "s" } else { "" }, .missing.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "))]
    Missing { missing: Vec<usize>, count: usize },
    #[error("{name} is of a run of {total} rows but {first} of {first_total}")]
    Total { name: String, total: usize, first: String, first_total: usize },
    #[error("{name} and {other} both hold row {row} of the unsharded run")]
    Overlap { name: String, other: String, row: usize },
    #[error("{name}: row {row} is past the {total} rows of the unsharded run")]
    OutOfRange { name: String, row: usize, total: usize },
    #[error("row {row} of the unsharded run is in no shard")]
    Hole { row: usize },
}

/// For each row of the unsharded run, in order, `(shard position in the list, row within that
/// shard's output)`: every shard `1..=N` exactly once, of one N and one total, rows disjoint and
/// covering the run.
pub fn merge_plan(shards: &[(String, ShardRows)]) -> Result<Vec<(usize, usize)>, MergeError> {
    let (first, first_rows) = shards.first().ok_or(MergeError::Empty)?;
    let count = first_rows.shard.count;
    let mut by_index: Vec<Option<usize>> = vec![None; count];
    for (s, (name, r)) in shards.iter().enumerate() {
        if r.shard.count != count {
            return Err(MergeError::Count { name: name.clone(), shard: r.shard, first: first.clone(), count });
        }
        if let Some(other) = by_index[r.shard.index - 1].replace(s) {
            return Err(MergeError::Duplicate { name: name.clone(), other: shards[other].0.clone(), shard: r.shard });
        }
        if r.total != first_rows.total {
            return Err(MergeError::Total { name: name.clone(), total: r.total, first: first.clone(), first_total: first_rows.total });
        }
    }
    let missing: Vec<usize> = by_index.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(k, _)| k + 1).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    let total = first_rows.total;
    let mut plan: Vec<Option<(usize, usize)>> = vec![None; total];
    for (s, (name, r)) in shards.iter().enumerate() {
        for (j, &row) in r.rows.iter().enumerate() {
            let slot = plan.get_mut(row).ok_or_else(|| MergeError::OutOfRange { name: name.clone(), row, total })?;
            if let Some((other, _)) = slot.replace((s, j)) {
                return Err(MergeError::Overlap { name: name.clone(), other: shards[other].0.clone(), row });
            }
        }
    }
    plan.into_iter().enumerate().map(|(row, p)| p.ok_or(MergeError::Hole { row })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        let e = |s: &str| s.parse::<Shard>().unwrap_err().to_string();
        assert_eq!(e("0/3"), "--shard 0/3: K must be between 1 and N=3");
        assert_eq!(e("4/3"), "--shard 4/3: K must be between 1 and N=3");
        for bad in ["3", "1/0", "a/3", "-1/3", "1/3/4", "", "/", "1 /3", "+1/3"] {
            assert_eq!(e(bad), format!("--shard {bad:?}: expected K/N, two whole numbers with 1 <= K <= N (e.g. 3/8)"), "{bad}");
        }
    }

    #[test]
    fn rows_sharing_a_window_stay_together_and_shards_balance_by_windows() {
        // 5 windows (a..e) over 9 rows, a and c interleaved with others.
        let keys = ["a", "b", "a", "c", "c", "d", "a", "e", "c"];
        assert_eq!(assign(&keys, 1), [0; 9]);
        assert_eq!(assign(&keys, 2), [0, 0, 0, 0, 0, 1, 0, 1, 0]);
        assert_eq!(rows(&keys, Shard { index: 2, count: 3 }), [3, 4, 5, 8]);
        for count in 1..=12 {
            let a = assign(&keys, count);
            // One shard per window.
            for (i, k) in keys.iter().enumerate() {
                for (j, l) in keys.iter().enumerate() {
                    if k == l {
                        assert_eq!(a[i], a[j], "{count} shards: rows {i} and {j} share window {k}");
                    }
                }
            }
            // Windows per shard differ by at most one.
            let mut windows = vec![std::collections::BTreeSet::new(); count];
            for (i, k) in keys.iter().enumerate() {
                windows[a[i]].insert(*k);
            }
            let sizes: Vec<usize> = windows.iter().map(|w| w.len()).collect();
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{count} shards: {sizes:?}");
            // The union of the shards is the run, each row once.
            let mut all: Vec<usize> = (1..=count).flat_map(|k| rows(&keys, Shard { index: k, count })).collect();
            all.sort();
            assert_eq!(all, (0..keys.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn joined_groups_rows_sharing_either_key() {
        // Windows w1..w4, genes g1..g3: g1 spans w1 and w2, w2 also holds a g2 row, w4 is alone.
        let windows = ["w1", "w3", "w2", "w2", "w4", "w3"];
        let genes = ["g1", "g3", "g1", "g2", "g4", "g3"];
        assert_eq!(joined(&windows, &genes), [0, 1, 0, 0, 2, 1]);
        // A later row joining two earlier groups merges them.
        assert_eq!(joined(&["a", "b", "a"], &["x", "y", "y"]), [0, 0, 0]);
        assert_eq!(joined::<&str, &str>(&[], &[]), Vec::<usize>::new());
    }

    #[test]
    fn runs_round_trip() {
        let rows = [0, 1, 2, 5, 7, 8];
        assert_eq!(to_runs(&rows), [[0, 3], [5, 6], [7, 9]]);
        assert_eq!(from_runs(&to_runs(&rows)), rows);
        assert!(to_runs(&[]).is_empty());
    }

    fn shard(k: usize, n: usize, rows: &[usize], total: usize) -> (String, ShardRows) {
        (format!("s{k}.tsv"), ShardRows { shard: Shard { index: k, count: n }, rows: rows.to_vec(), total })
    }

    #[test]
    fn merge_plan_restores_the_unsharded_order() {
        let keys = ["a", "b", "a", "c", "c", "d", "a", "e", "c"];
        let shards: Vec<_> = [3, 1, 2].iter().map(|&k| shard(k, 3, &rows(&keys, Shard { index: k, count: 3 }), 9)).collect();
        let plan = merge_plan(&shards).unwrap();
        let back: Vec<usize> = plan.iter().map(|&(s, j)| shards[s].1.rows[j]).collect();
        assert_eq!(back, (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn merge_plan_refuses_missing_duplicate_and_mixed_shards() {
        let e = |s: &[(String, ShardRows)]| merge_plan(s).unwrap_err().to_string();
        assert_eq!(e(&[]), "no shards to merge");
        assert_eq!(e(&[shard(1, 3, &[0], 3)]), "missing shards 2, 3 of 3");
        let (mut again, first) = (shard(1, 2, &[1], 2), shard(1, 2, &[0], 2));
        again.0 = "again.tsv".into();
        assert_eq!(e(&[first, again]), "again.tsv and s1.tsv are both shard 1/2");
        assert_eq!(e(&[shard(1, 2, &[0], 2), shard(2, 3, &[1], 2)]), "s2.tsv is shard 2/3 but s1.tsv is of 2 shards");
        assert_eq!(e(&[shard(1, 2, &[0], 2), shard(2, 2, &[1], 3)]), "s2.tsv is of a run of 3 rows but s1.tsv of 2");
        assert_eq!(e(&[shard(1, 2, &[0, 1], 3), shard(2, 2, &[1, 2], 3)]), "s2.tsv and s1.tsv both hold row 1 of the unsharded run");
        assert_eq!(e(&[shard(1, 2, &[0], 3), shard(2, 2, &[2], 3)]), "row 1 of the unsharded run is in no shard");
        assert_eq!(e(&[shard(1, 2, &[0], 2), shard(2, 2, &[5], 2)]), "s2.tsv: row 5 is past the 2 rows of the unsharded run");
    }
}
