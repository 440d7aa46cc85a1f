//! The substring index: for every trigram (three bytes) of the names, the ids of the names
//! that hold it, as delta-varint posting lists cut into chunks of about [`CHUNK_BYTES`].
//!
//! `grams (gram, first_id)` is the key: a gram's chunks are a primary-key range scan, in id
//! order. A batch appends the ids of its new names to the last chunk of each gram it
//! touches, then opens new chunks: one statement per touched chunk, not per name and gram.
//! Ids only grow (new names take `max(id) + 1`), so lists stay sorted. Ids of pruned names
//! may linger: a substring query checks every candidate against the name itself.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::FxHashMap;

/// Chunk size the writer aims for: small enough that a chunk never spills to an overflow
/// page (a 4 KiB page keeps rows up to about 1000 bytes inline; larger rows left pages a
/// third full).
pub(crate) const CHUNK_BYTES: usize = 240;

/// The trigram of three bytes.
pub(crate) fn gram(w: &[u8]) -> u32 {
    w.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// The distinct trigrams of a text, sorted.
pub(crate) fn grams_of(text: &[u8]) -> Vec<u32> {
    let mut g: Vec<u32> = text.windows(3).map(gram).collect();
    g.sort_unstable();
    g.dedup();
    g
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes the ids of one chunk (its first id is the key, the blob holds the deltas).
pub(crate) fn decode_chunk(first_id: i64, blob: &[u8], out: &mut Vec<i64>) {
    out.push(first_id);
    let (mut id, mut shift, mut acc) = (first_id, 0u32, 0u64);
    for b in blob {
        if shift < 64 {
            acc |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            id = id.saturating_add(i64::try_from(acc).unwrap_or(i64::MAX));
            out.push(id);
            (shift, acc) = (0, 0);
        } else {
            shift += 7;
        }
    }
}

/// The last chunk of each gram, as stored: its key, last id and bytes. Kept across batches
/// so appending needs no read; cleared when a transaction fails.
pub(crate) type Tails = FxHashMap<u32, (i64, i64, Vec<u8>)>;

/// Adds new names (ids ascending) to the index.
pub(crate) fn index_names(
    tx: &Transaction<'_>,
    tails: &mut Tails,
    names: &[(i64, String)],
) -> rusqlite::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut lists: FxHashMap<u32, Vec<i64>> = FxHashMap::default();
    for (id, name) in names {
        for g in grams_of(name.as_bytes()) {
            lists.entry(g).or_default().push(*id);
        }
    }
    let mut grams: Vec<(u32, Vec<i64>)> = lists.into_iter().collect();
    grams.sort_unstable_by_key(|(g, _)| *g);
    let mut last = tx.prepare_cached(
        "SELECT first_id, last_id, ids FROM grams WHERE gram = ?1 ORDER BY first_id DESC LIMIT 1",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE grams SET last_id = ?3, ids = ?4 WHERE gram = ?1 AND first_id = ?2",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO grams (gram, first_id, last_id, ids) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (g, ids) in grams {
        let tail = match tails.remove(&g) {
            Some(t) => Some(t),
            None => last
                .query_row([g], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?,
        };
        let mut ids = ids.into_iter();
        // Fill the gram's last chunk first, if it has room.
        if let Some((first_id, mut last_id, mut blob)) = tail
            && blob.len() < CHUNK_BYTES
        {
            for id in ids.by_ref() {
                if id <= last_id {
                    continue; // already there (a retried batch): lists hold each id once
                }
                put_varint(&mut blob, (id - last_id).unsigned_abs());
                last_id = id;
                if blob.len() >= CHUNK_BYTES {
                    break;
                }
            }
            update.execute(params![g, first_id, last_id, blob])?;
            if blob.len() < CHUNK_BYTES {
                tails.insert(g, (first_id, last_id, blob));
            }
        }
        // Then new chunks.
        let mut chunk: Option<(i64, i64, Vec<u8>)> = None;
        for id in ids {
            match &mut chunk {
                None => chunk = Some((id, id, Vec::new())),
                Some((_, last_id, blob)) => {
                    put_varint(blob, (id - *last_id).unsigned_abs());
                    *last_id = id;
                }
            }
            if chunk
                .as_ref()
                .is_some_and(|(_, _, b)| b.len() >= CHUNK_BYTES)
                && let Some((f, l, b)) = chunk.take()
            {
                insert.execute(params![g, f, l, b])?;
            }
        }
        if let Some((f, l, b)) = chunk {
            insert.execute(params![g, f, l, b])?;
            tails.insert(g, (f, l, b));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_chunks_round_trip() {
        let ids: Vec<i64> = vec![5, 6, 7, 300, 70_000, 70_001, 9_000_000_000];
        let mut blob = Vec::new();
        for w in ids.windows(2) {
            put_varint(&mut blob, (w[1] - w[0]).unsigned_abs());
        }
        let mut out = Vec::new();
        decode_chunk(ids[0], &blob, &mut out);
        assert_eq!(out, ids);
        assert_eq!(
            grams_of(b"abcab"),
            vec![gram(b"abc"), gram(b"bca"), gram(b"cab")]
        );
        assert!(grams_of(b"ab").is_empty());
    }
}
