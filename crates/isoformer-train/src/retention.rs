//! Which checkpoints stay on disk once a new one is written.

/// Keep the `keep` most recent checkpoints: the one just written and the `keep − 1` others of
/// the highest steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub keep: usize,
}

impl RetentionPolicy {
    /// Only the checkpoint just written: a resume needs no other.
    pub const LATEST: Self = Self { keep: 1 };

    /// Of the checkpoints on disk (their steps), those to delete now that `saved` is written.
    pub fn to_remove(&self, on_disk: &[usize], saved: usize) -> Vec<usize> {
        let mut others: Vec<usize> = on_disk.iter().copied().filter(|&s| s != saved).collect();
        others.sort_unstable_by(|a, b| b.cmp(a));
        others.into_iter().skip(self.keep.saturating_sub(1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_removes_every_other_checkpoint() {
        let mut gone = RetentionPolicy::LATEST.to_remove(&[5, 10, 15, 12], 15);
        gone.sort_unstable();
        assert_eq!(gone, [5, 10, 12]);
        assert!(RetentionPolicy::LATEST.to_remove(&[15], 15).is_empty());
        // a resume from step 10 that rewrites a stale, newer checkpoint keeps only its own
        assert_eq!(RetentionPolicy::LATEST.to_remove(&[10, 12], 10), [12]);
    }

    #[test]
    fn keep_three_keeps_the_newest_others() {
        let gone = RetentionPolicy { keep: 3 }.to_remove(&[5, 10, 15, 20], 20);
        assert_eq!(gone, [5]);
    }
}
