//! C2SP tlog-tiles: the tree stored and served as tiles of height 8. A level-`L` tile `N`
//! holds the hashes at tree level `8·L` with indices `[256·N, 256·N + 256)`; level 0 holds leaf
//! hashes. Tiles only grow (a partial tile is a prefix of the full one), so a log keeps each
//! tile's current hashes and serves any width up to them.

use std::collections::BTreeMap;

use crate::merkle::{HashReader, node_hash};
use crate::{Hash, TlogError};

/// Tile height (fixed by C2SP tlog-tiles).
pub const HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const WIDTH: u64 = 1 << HEIGHT;

/// A tile: level, index, width (1–256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    pub level: u32,
    pub index: u64,
    pub width: u32,
}

/// How many hashes level `level` holds in a tree of `size` leaves.
pub fn hashes_at(level: u32, size: u64) -> u64 {
    let shift = HEIGHT * level;
    if shift >= 64 { 0 } else { size >> shift }
}

/// `N` written in 3-digit groups, all but the last prefixed with `x` (1234067 → `x001/x234/067`).
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

impl TileId {
    /// The tile's path below the log's prefix: `tile/<L>/<N>[.p/<W>]` (entries:
    /// `tile/entries/<N>[.p/<W>]` with [`TileId::entries_path`]).
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    fn suffix(&self) -> String {
        if u64::from(self.width) == WIDTH {
            index_path(self.index)
        } else {
            format!("{}.p/{}", index_path(self.index), self.width)
        }
    }

    /// Parses what follows `tile/<L>/` (or `tile/entries/`): `x001/x234/067[.p/<W>]`.
    pub fn parse(level: u32, rest: &str) -> Result<TileId, TlogError> {
        let bad = || TlogError::MalformedTilePath;
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                if w.is_empty() || w.len() > 3 || !w.bytes().all(|b| b.is_ascii_digit()) || w.starts_with('0') {
                    return Err(bad());
                }
                let w: u32 = w.parse().map_err(|_| bad())?;
                if !(1..WIDTH as u32).contains(&w) {
                    return Err(bad());
                }
                (i, w)
            }
            None => (rest, WIDTH as u32),
        };
        let groups: Vec<&str> = index_part.split('/').collect();
        let mut index: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last { *g } else { g.strip_prefix('x').ok_or_else(bad)? };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let d: u64 = digits.parse().map_err(|_| bad())?;
            index = index.checked_mul(1000).and_then(|x| x.checked_add(d)).ok_or_else(bad)?;
        }
        // One spelling per index: no leading zero groups.
        if groups.len() > 1 && groups[0] == "x000" {
            return Err(bad());
        }
        Ok(TileId { level, index, width })
    }

    /// Whether a tree of `size` leaves has this tile at this width or wider.
    pub fn exists_at(&self, size: u64) -> bool {
        let have = hashes_at(self.level, size);
        have >= self.index * WIDTH + u64::from(self.width)
    }
}

/// Reads stored tiles: the current hashes of tile (level, index), up to 256.
pub trait TileSource {
    fn tile(&self, level: u32, index: u64) -> Result<Vec<Hash>, TlogError>;
}

/// A [`HashReader`] over stored tiles: hashes at levels between tiles are computed from the
/// tile below (at most 255 hashes for one node).
pub struct TileHashes<'a, S: TileSource>(pub &'a S);

impl<S: TileSource> HashReader for TileHashes<'_, S> {
    fn node(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        let (tile_level, within) = (level / HEIGHT, level % HEIGHT);
        let first = index << within;
        let tile = self.0.tile(tile_level, first / WIDTH)?;
        let start = (first % WIDTH) as usize;
        let count = 1usize << within;
        let hashes = tile.get(start..start + count).ok_or(TlogError::MissingHash { level, index })?;
        Ok(subtree_root(hashes))
    }
}

/// The root of a perfect subtree from its `2^k` bottom hashes (a full tile's hash one tile
/// level up).
pub fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// The tiles that change when the leaves `new_leaves` are appended to a tree of `old_size`
/// leaves: each with its full current content (the prefix it had, plus the new hashes).
pub fn extend(
    source: &impl TileSource,
    old_size: u64,
    new_leaves: &[Hash],
) -> Result<BTreeMap<(u32, u64), Vec<Hash>>, TlogError> {
    let new_size = old_size + new_leaves.len() as u64;
    let mut changed: BTreeMap<(u32, u64), Vec<Hash>> = BTreeMap::new();
    let mut fresh: Vec<Hash> = new_leaves.to_vec();
    let mut level = 0u32;
    loop {
        let (a, b) = (hashes_at(level, old_size), hashes_at(level, new_size));
        if a == b {
            break;
        }
        debug_assert_eq!(fresh.len() as u64, b - a);
        let mut at = a;
        let mut taken = 0usize;
        while at < b {
            let tile = at / WIDTH;
            let offset = at % WIDTH;
            let mut data = if offset > 0 {
                let mut prefix = source.tile(level, tile)?;
                if (prefix.len() as u64) < offset {
                    return Err(TlogError::MissingHash { level: level * HEIGHT, index: at - 1 });
                }
                prefix.truncate(offset as usize);
                prefix
            } else {
                Vec::new()
            };
            let room = (WIDTH - offset).min(b - at) as usize;
            data.extend_from_slice(&fresh[taken..taken + room]);
            taken += room;
            at += room as u64;
            changed.insert((level, tile), data);
        }
        // The next level's new hashes: the roots of the tiles of this level that became full.
        let (na, nb) = (hashes_at(level + 1, old_size), hashes_at(level + 1, new_size));
        fresh = (na..nb)
            .map(|i| {
                changed
                    .get(&(level, i))
                    .filter(|t| t.len() as u64 == WIDTH)
                    .map(|t| subtree_root(t))
                    .ok_or(TlogError::MissingHash { level: level * HEIGHT, index: i * WIDTH })
            })
            .collect::<Result<_, _>>()?;
        level += 1;
    }
    Ok(changed)
}

/// An entry bundle: each entry as `u16 big-endian length || bytes`.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e[..usize::from(len)]);
    }
    out
}

/// The entries of a bundle, or an error when it is cut short.
pub fn decode_bundle(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, TlogError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let [a, b, rest @ ..] = bytes else { return Err(TlogError::MalformedTilePath) };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < len {
            return Err(TlogError::MalformedTilePath);
        }
        out.push(rest[..len].to_vec());
        bytes = &rest[len..];
    }
    Ok(out)
}

/// Tiles in memory (tests, and the integrator's batch before it is stored).
#[derive(Debug, Default, Clone)]
pub struct MemoryTiles(pub BTreeMap<(u32, u64), Vec<Hash>>);

impl TileSource for MemoryTiles {
    fn tile(&self, level: u32, index: u64) -> Result<Vec<Hash>, TlogError> {
        self.0.get(&(level, index)).cloned().ok_or(TlogError::MissingTile { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, consistency_proof, inclusion_proof, leaf_hash, root};

    #[test]
    fn paths_as_the_spec_writes_them() {
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(0), "000");
        assert_eq!(TileId { level: 0, index: 3, width: 232 }.path(), "tile/0/003.p/232");
        assert_eq!(TileId { level: 1, index: 1234067, width: 256 }.path(), "tile/1/x001/x234/067");
        assert_eq!(TileId { level: 0, index: 5, width: 7 }.entries_path(), "tile/entries/005.p/7");
        assert_eq!(TileId::parse(0, "x001/x234/067"), Ok(TileId { level: 0, index: 1234067, width: 256 }));
        assert_eq!(TileId::parse(2, "003.p/232"), Ok(TileId { level: 2, index: 3, width: 232 }));
        for bad in [
            "",
            "3",
            "0003",
            "x001",
            "001/234",
            "x000/001",
            "003.p/",
            "003.p/0",
            "003.p/256",
            "003.p/012",
            "003.p/a",
            "../001",
        ] {
            assert_eq!(TileId::parse(0, bad), Err(TlogError::MalformedTilePath), "{bad}");
        }
    }

    #[test]
    fn tiles_grown_in_batches_prove_like_the_whole_tree() {
        let mut tiles = MemoryTiles::default();
        let mut tree = MemoryTree::new();
        let mut size = 0u64;
        // Batches of awkward sizes across tile boundaries, up to two levels of tiles.
        for batch in [1usize, 254, 3, 300, 65_000, 700, 1] {
            let leaves: Vec<Hash> = (0..batch).map(|i| leaf_hash(&(size + i as u64).to_be_bytes())).collect();
            let changed = extend(&tiles, size, &leaves).unwrap();
            for ((l, n), data) in changed {
                tiles.0.insert((l, n), data);
            }
            for l in &leaves {
                tree.push(*l);
            }
            size += batch as u64;
            let reader = TileHashes(&tiles);
            assert_eq!(root(&reader, size).unwrap(), root(&tree, size).unwrap(), "size {size}");
            for i in [0, size / 3, size - 1] {
                assert_eq!(inclusion_proof(&reader, i, size).unwrap(), inclusion_proof(&tree, i, size).unwrap());
            }
            assert_eq!(
                consistency_proof(&reader, size / 2, size).unwrap(),
                consistency_proof(&tree, size / 2, size).unwrap()
            );
        }
        assert_eq!(size, 66_259);
        assert_eq!(tiles.0.get(&(1, 0)).map(Vec::len), Some(256));
        assert_eq!(tiles.0.get(&(2, 0)).map(Vec::len), Some(1));
        assert!(TileId { level: 0, index: 258, width: 211 }.exists_at(size));
        assert!(!TileId { level: 0, index: 258, width: 212 }.exists_at(size));
    }

    #[test]
    fn bundles_round_trip() {
        let entries: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let bundle = encode_bundle(entries.iter().copied());
        assert_eq!(decode_bundle(&bundle).unwrap(), entries.iter().map(|e| e.to_vec()).collect::<Vec<_>>());
        assert!(decode_bundle(&bundle[..bundle.len() - 1]).is_err());
        assert!(decode_bundle(&[0]).is_err());
    }
}
