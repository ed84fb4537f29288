//! RFC 6962 §2.1 Merkle trees: hashes, roots, inclusion and consistency proofs (produced from
//! stored subtree hashes) and their verification (RFC 9162 §2.1.3.2 and §2.1.4.2).

use sha2::{Digest, Sha256};

use crate::{Hash, TlogError};

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The hashes of complete subtrees a log has stored: `node(h, i)` is the root of the leaves
/// `[i·2^h, (i+1)·2^h)`. Tiles provide them ([`crate::tile::TileHashes`]).
pub trait HashReader {
    fn node(&self, level: u32, index: u64) -> Result<Hash, TlogError>;
}

/// The largest power of two strictly smaller than `n` (`n ≥ 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the leaves `[lo, hi)` (RFC 6962 MTH).
pub fn range_hash(r: &impl HashReader, lo: u64, hi: u64) -> Result<Hash, TlogError> {
    let n = hi - lo;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return r.node(n.trailing_zeros(), lo / n);
    }
    let k = split(n);
    Ok(node_hash(&range_hash(r, lo, lo + k)?, &range_hash(r, lo + k, hi)?))
}

/// The root of a tree of `size` leaves.
pub fn root(r: &impl HashReader, size: u64) -> Result<Hash, TlogError> {
    range_hash(r, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), the
/// leaf's sibling first.
pub fn inclusion_proof(r: &impl HashReader, index: u64, size: u64) -> Result<Vec<Hash>, TlogError> {
    if index >= size {
        return Err(TlogError::IndexOutOfRange { index, size });
    }
    fn path(r: &impl HashReader, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<(), TlogError> {
        let n = hi - lo;
        if n == 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            path(r, m, lo, lo + k, out)?;
            out.push(range_hash(r, lo + k, hi)?);
        } else {
            path(r, m - k, lo + k, hi, out)?;
            out.push(range_hash(r, lo, lo + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    path(r, index, 0, size, &mut out)?;
    Ok(out)
}

/// Checks that `leaf` is at `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), TlogError> {
    if index >= size {
        return Err(TlogError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(TlogError::BadProof);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && &r == root { Ok(()) } else { Err(TlogError::BadProof) }
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves (RFC 6962
/// PROOF); empty when `old` is 0 or equal to `new`.
pub fn consistency_proof(r: &impl HashReader, old: u64, new: u64) -> Result<Vec<Hash>, TlogError> {
    if old > new {
        return Err(TlogError::BadSizes { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    fn sub(r: &impl HashReader, m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<Hash>) -> Result<(), TlogError> {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(range_hash(r, lo, hi)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            sub(r, m, lo, lo + k, whole, out)?;
            out.push(range_hash(r, lo + k, hi)?);
        } else {
            sub(r, m - k, lo + k, hi, false, out)?;
            out.push(range_hash(r, lo, lo + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    sub(r, old, 0, new, true, &mut out)?;
    Ok(out)
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`. Equal sizes need an empty proof and equal roots; old size 0
/// needs an empty proof (the witness protocol's rule).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    if old > new {
        return Err(TlogError::BadSizes { old, new });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root { Ok(()) } else { Err(TlogError::BadProof) };
    }
    if old == 0 {
        return if proof.is_empty() { Ok(()) } else { Err(TlogError::BadProof) };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return Err(TlogError::BadProof) };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(TlogError::BadProof);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && &fr == old_root && &sr == new_root { Ok(()) } else { Err(TlogError::BadProof) }
}

/// Every complete subtree hash of a list of leaf hashes, in memory (tests, small logs).
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    /// `levels[h][i]` = node(h, i).
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        MemoryTree { levels: vec![Vec::new()] }
    }

    pub fn push(&mut self, leaf: Hash) {
        self.levels[0].push(leaf);
        let mut h = 0;
        while self.levels[h].len().is_multiple_of(2) {
            let n = self.levels[h].len();
            let parent = node_hash(&self.levels[h][n - 2], &self.levels[h][n - 1]);
            if self.levels.len() == h + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[h + 1].push(parent);
            h += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }
}

impl HashReader for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(TlogError::MissingHash { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    /// The plain recursive definition, as the oracle.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn known_roots() {
        // RFC 6962 test vectors (certificate-transparency-go): the empty tree, and one leaf "".
        assert_eq!(hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&leaf_hash(b"")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    }

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    proptest! {
        #[test]
        fn roots_and_proofs_agree_with_the_definition(n in 1u64..300, i in 0u64..300, m in 0u64..300) {
            let t = tree(n);
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let r = root(&t, n).unwrap();
            prop_assert_eq!(r, mth(&leaves));
            let i = i % n;
            let proof = inclusion_proof(&t, i, n).unwrap();
            prop_assert!(verify_inclusion(&leaves[i as usize], i, n, &proof, &r).is_ok());
            // Another leaf, index or root fails.
            prop_assert!(verify_inclusion(&leaf_hash(b"x"), i, n, &proof, &r).is_err());
            if n > 1 {
                prop_assert!(verify_inclusion(&leaves[i as usize], (i + 1) % n, n, &proof, &r).is_err());
            }
            let m = m % (n + 1);
            let old = root(&t, m).unwrap();
            prop_assert_eq!(old, mth(&leaves[..m as usize]));
            let c = consistency_proof(&t, m, n).unwrap();
            prop_assert!(verify_consistency(m, n, &old, &r, &c).is_ok());
            if m > 0 && m < n {
                prop_assert!(verify_consistency(m, n, &leaf_hash(b"x"), &r, &c).is_err());
                prop_assert!(verify_consistency(m, n, &old, &leaf_hash(b"x"), &c).is_err());
                let mut bad = c.clone();
                bad[0][0] ^= 1;
                prop_assert!(verify_consistency(m, n, &old, &r, &bad).is_err());
            }
        }
    }

    #[test]
    fn edge_cases_are_pinned() {
        let t = tree(5);
        let r = root(&t, 5).unwrap();
        assert!(verify_consistency(5, 5, &r, &r, &[]).is_ok());
        assert!(verify_consistency(5, 5, &r, &empty_root(), &[]).is_err());
        assert!(verify_consistency(0, 5, &empty_root(), &r, &[]).is_ok());
        assert!(verify_consistency(0, 5, &empty_root(), &r, &[r]).is_err());
        assert_eq!(verify_consistency(6, 5, &r, &r, &[]), Err(TlogError::BadSizes { old: 6, new: 5 }));
        assert_eq!(inclusion_proof(&t, 5, 5), Err(TlogError::IndexOutOfRange { index: 5, size: 5 }));
        assert!(verify_inclusion(&r, 0, 0, &[], &r).is_err());
    }
}
