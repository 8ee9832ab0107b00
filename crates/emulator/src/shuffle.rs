//! A training channel's `ShuffleConfig`: the order of its objects, drawn from `Seed`.
//!
//! SageMaker's API reference (`ShuffleConfig`): with `S3Prefix` the keys the prefix matches are
//! shuffled, with `ManifestFile` the manifest's object references, with `AugmentedManifestFile`
//! its JSON lines (the emulator refuses that type); the order is determined by `Seed` (a Long,
//! required); in Pipe mode the shuffle is done again at the start of every epoch. Here the order
//! of epoch `n` is a Fisher–Yates shuffle driven by ChaCha8 seeded with `Seed` on stream `n`:
//! the same for the same seed and epoch on every run and machine (not SageMaker's own order,
//! which it does not publish). A File or FastFile channel is a directory, whose listing does
//! not depend on the order its objects were copied in, so the shuffle only shows in Pipe mode.

use rand::SeedableRng;
use rand::seq::SliceRandom;

/// `items` in the order of `epoch` for `seed`.
pub(crate) fn order<T: Clone>(items: &[T], seed: i64, epoch: u64) -> Vec<T> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed as u64);
    rng.set_stream(epoch);
    let mut out = items.to_vec();
    out.shuffle(&mut rng);
    out
}

#[cfg(test)]
mod tests {
    use super::order;

    #[test]
    fn the_order_is_fixed_by_seed_and_epoch_and_differs_between_them() {
        let items: Vec<u32> = (0..10).collect();
        let first = order(&items, 42, 0);
        // the order of seed 42, epoch 0, on every run
        assert_eq!(first, vec![7, 1, 5, 4, 6, 9, 3, 8, 2, 0]);
        assert_eq!(order(&items, 42, 0), first);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, items, "a permutation");
        assert_ne!(order(&items, 43, 0), first, "another seed");
        assert_ne!(order(&items, 42, 1), first, "another epoch");
        assert_ne!(order(&items, -42, 0), first, "a negative seed is a seed");
    }
}
