//! tiktoken's `encode_with_unstable`: the ids of a text whose end may still change, as when
//! a model is about to continue it.
//!
//! The last chunk of a text is unstable: more text could join it and change its tokens. So
//! its ids are left out, and the completions say how its bytes may go on: every token that
//! starts with them, and, for every way of cutting them in two, the ids of the first part
//! joined to each token that starts with the second, up to the unstable bytes' length. The
//! rule is tiktoken's (`CoreBPE::_encode_unstable_native`), step for step, so that the
//! completions are the same set.

use super::{Allowed, Encoder, Segment};
use crate::error::Result;
use std::collections::BTreeSet;

impl Encoder {
    /// The ids of `text` up to its unstable end, and the possible ids of that end (each
    /// once, in increasing order). The `allowed` special tokens become their ids, as in
    /// [`Encoder::encode`]; a text that ends with one has no unstable end.
    pub fn encode_with_unstable(
        &self,
        text: &str,
        allowed: Allowed,
    ) -> Result<(Vec<u32>, Vec<Vec<u32>>)> {
        let mut ids = Vec::new();
        // The number of ids of the last chunk: 0 after a special token.
        let mut last = 0;
        self.segments(text, allowed, |segment| match segment {
            Segment::Text(text) => self.split(text, |chunk| {
                let at = ids.len();
                self.encode_chunk(chunk.as_bytes(), &mut ids, None);
                last = ids.len() - at;
            }),
            Segment::Special(id) => {
                ids.push(id);
                last = 0;
                Ok(())
            }
        })?;
        if last == 0 {
            return Ok((ids, Vec::new()));
        }
        // A split of the pattern can vanish once more text comes (cl100k_base's
        // `\s*[\r\n]+` turns "\n" + " " into "\n \n"), so a last chunk of spaces takes the
        // chunks of spaces before it along, as tiktoken does.
        let all_space = |id: u32| {
            self.ranks
                .token(id)
                .is_some_and(|b| b.iter().all(|c| matches!(c, b' ' | b'\n' | b'\t')))
        };
        if all_space(ids[ids.len() - last]) {
            while last < ids.len() && all_space(ids[ids.len() - last - 1]) {
                last += 1;
            }
        }
        let unstable = self.decode(&ids[ids.len() - last..])?;
        ids.truncate(ids.len() - last);
        let mut completions = BTreeSet::new();
        for id in self.starting_with(&unstable) {
            completions.insert(vec![id]);
        }
        for cut in 1..unstable.len() {
            let (prefix, suffix) = unstable.split_at(cut);
            for id in self.starting_with(suffix) {
                let joined = [prefix, self.bytes_of(id)].concat();
                let encoded = match std::str::from_utf8(&joined) {
                    Ok(s) => self.encode_ordinary(s)?,
                    Err(_) => self.encode_piece(&joined),
                };
                // Only as many ids as cover the unstable bytes.
                let mut covered = 0;
                let n = encoded
                    .iter()
                    .position(|&id| {
                        covered += self.bytes_of(id).len();
                        covered >= unstable.len()
                    })
                    .map_or(encoded.len(), |i| i + 1);
                completions.insert(encoded[..n].to_vec());
            }
        }
        // Ending in whitespace, the last character may later split off on its own.
        if let Some((c, len)) = last_char(&unstable) {
            if c.is_whitespace() && len < unstable.len() {
                let (head, tail) = unstable.split_at(unstable.len() - len);
                let mut split = self.encode_piece(head);
                split.extend(self.encode_piece(tail));
                completions.insert(split);
            }
        }
        Ok((ids, completions.into_iter().collect()))
    }

    /// The ids of `bytes` merged as one chunk, with no split: tiktoken's `byte_pair_encode`,
    /// which, unlike encoding, does not look the whole chunk up first (a token that no
    /// sequence of joins reaches stays in parts).
    fn encode_piece(&self, bytes: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        match bytes {
            [] => {}
            [byte] => out.push(self.ranks.byte(*byte)),
            _ => self.merge(bytes, &mut out),
        }
        out
    }

    /// The bytes of a rank.
    fn bytes_of(&self, id: u32) -> &[u8] {
        self.ranks.token(id).unwrap_or_default()
    }

    /// The ranks whose bytes start with `prefix`, in the order of their bytes.
    fn starting_with<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = u32> + 'a {
        let sorted = self.sorted.get_or_init(|| {
            let mut ids: Vec<u32> = (0..self.ranks.len() as u32).collect();
            ids.sort_unstable_by(|&a, &b| self.bytes_of(a).cmp(self.bytes_of(b)));
            ids
        });
        let from = sorted.partition_point(|&id| self.bytes_of(id) < prefix);
        sorted[from..]
            .iter()
            .copied()
            .take_while(move |&id| self.bytes_of(id).starts_with(prefix))
    }
}

/// The last character of `bytes` and its length in bytes, if they end with a whole UTF-8
/// character.
fn last_char(bytes: &[u8]) -> Option<(char, usize)> {
    (1..=bytes.len().min(4)).find_map(|len| {
        let s = std::str::from_utf8(&bytes[bytes.len() - len..]).ok()?;
        let mut chars = s.chars();
        let c = chars.next()?;
        chars.next().is_none().then_some((c, len))
    })
}
