//! Batches with parts (`Trainer::feed_parts`): text written on the counting threads counts
//! exactly as the same documents fed in memory, and a bad part changes nothing.

use crate::text::text;
use bpe_core::{Error, Parts, Trainer, GPT2_PATTERN, GPT4_PATTERN};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Parts that write the given texts; each group of texts is one part, its texts whole
/// documents. `wrong` makes one part misbehave.
struct Groups<'a> {
    groups: Vec<Vec<&'a str>>,
    wrong: Option<(usize, Wrong)>,
    /// How many parts were written (each exactly once, it is checked).
    written: AtomicUsize,
}

#[derive(Clone, Copy, Debug)]
enum Wrong {
    /// `write` fails.
    Fails,
    /// A text that is not UTF-8 after the part's first text.
    NotUtf8,
    /// A text ends inside a character.
    EndsInsideAChar,
    /// The ends go backwards.
    EndsBackwards,
    /// An end past the text written.
    EndsPastTheText,
}

#[derive(Debug, PartialEq)]
enum TestError {
    Core(Error),
    /// Part `0` failed to write.
    Write(usize),
    /// What the trainer said of part `0`'s text.
    Text(usize, Error),
}

impl From<Error> for TestError {
    fn from(e: Error) -> Self {
        TestError::Core(e)
    }
}

impl<'a> Groups<'a> {
    fn new(groups: Vec<Vec<&'a str>>) -> Self {
        Groups {
            groups,
            wrong: None,
            written: AtomicUsize::new(0),
        }
    }
}

impl Parts for Groups<'_> {
    type Error = TestError;

    fn len(&self) -> usize {
        self.groups.len()
    }

    fn bytes(&self) -> usize {
        self.groups.iter().flatten().map(|t| t.len()).sum()
    }

    fn write(
        &self,
        part: usize,
        text: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<u64, TestError> {
        self.written.fetch_add(1, Ordering::Relaxed);
        // The buffer is handed over empty, whatever the last part left in it.
        assert!(text.is_empty() && ends.is_empty());
        for t in &self.groups[part] {
            text.extend_from_slice(t.as_bytes());
            ends.push(text.len());
        }
        match self.wrong {
            Some((p, wrong)) if p == part => match wrong {
                Wrong::Fails => return Err(TestError::Write(part)),
                Wrong::NotUtf8 => {
                    text.extend_from_slice(b"ok \xff\xfe");
                    ends.push(text.len());
                }
                Wrong::EndsInsideAChar => {
                    text.extend_from_slice("é".as_bytes());
                    ends.push(text.len() - 1);
                }
                Wrong::EndsBackwards => ends.push(0),
                Wrong::EndsPastTheText => ends.push(text.len() + 1),
            },
            _ => {}
        }
        Ok(self.groups[part].len() as u64)
    }

    fn error(&self, part: usize, e: Error) -> TestError {
        TestError::Text(part, e)
    }
}

/// Every chunk with its count, sorted.
fn counts(t: &Trainer) -> Vec<(Vec<u8>, u64)> {
    let mut v: Vec<_> = t.counts().iter().map(|(k, n)| (k.to_vec(), n)).collect();
    v.sort();
    v
}

/// `docs` fed to a trainer with the documents at `in_memory` (a mask) in memory and the
/// others in parts of `group` texts, in `batches` batches.
fn fed_in_parts(pattern: &str, docs: &[String], in_memory: &[bool], group: usize) -> Trainer {
    let mut t = Trainer::new(pattern, 2).unwrap();
    for (batch, mask) in docs.chunks(7).zip(in_memory.chunks(7)) {
        let memory: Vec<&[u8]> = (batch.iter().zip(mask))
            .filter(|(_, &m)| m)
            .map(|(d, _)| d.as_bytes())
            .collect();
        let written: Vec<&str> = (batch.iter().zip(mask))
            .filter(|(_, &m)| !m)
            .map(|(d, _)| d.as_str())
            .collect();
        let parts = Groups::new(written.chunks(group).map(<[_]>::to_vec).collect());
        t.feed_parts(&memory, &parts).unwrap();
        assert_eq!(parts.written.load(Ordering::Relaxed), parts.groups.len());
    }
    t
}

fn fed_whole(pattern: &str, docs: &[String]) -> Trainer {
    let mut t = Trainer::new(pattern, 2).unwrap();
    let docs: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
    t.feed(&docs).unwrap();
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any documents, any of them written by parts of any size, over several batches:
    /// the same counts, documents and bytes as the documents fed in memory.
    #[test]
    fn parts_count_like_documents_in_memory(
        docs in prop::collection::vec(text(60), 0..30),
        in_memory in prop::collection::vec(any::<bool>(), 30),
        group in 1usize..5,
        pattern in prop::sample::select(vec![GPT4_PATTERN, GPT2_PATTERN]),
    ) {
        let parts = fed_in_parts(pattern, &docs, &in_memory[..docs.len()], group);
        let whole = fed_whole(pattern, &docs);
        prop_assert_eq!(counts(&parts), counts(&whole));
        prop_assert_eq!(parts.counts().documents(), docs.len() as u64);
        prop_assert_eq!(parts.counts().bytes(), whole.counts().bytes());
    }
}

/// A text of a part long enough to be cut and counted in pieces on every core counts like
/// the same document in memory.
#[test]
fn a_long_text_in_a_part_counts_like_the_document() {
    let words = [
        "alpha",
        " beta",
        "  gamma",
        "\n",
        " d\u{e9}j\u{e0}",
        " 12345",
        "!!",
    ];
    let long: String = (0..600_000).map(|i| words[i * 7 % 5 + i % 3]).collect();
    assert!(long.len() > 2 << 20);
    let docs = vec!["before".to_string(), long, "after".to_string()];
    let parts = fed_in_parts(GPT4_PATTERN, &docs, &[true, false, false], 2);
    let whole = fed_whole(GPT4_PATTERN, &docs);
    assert_eq!(counts(&parts), counts(&whole));
    assert_eq!(parts.counts().documents(), 3);
}

/// A part that fails to write, or writes what cannot be counted, fails the batch and
/// changes nothing; the trainer names the part and the text in it.
#[test]
fn a_bad_part_changes_nothing() {
    let docs = ["one two", "three", "four five", "six"];
    let cases = [
        (Wrong::Fails, TestError::Write(1)),
        (
            Wrong::NotUtf8,
            TestError::Text(
                1,
                Error::InvalidUtf8 {
                    document: 2,
                    offset: 3,
                },
            ),
        ),
        (
            Wrong::EndsInsideAChar,
            TestError::Text(
                1,
                Error::InvalidUtf8 {
                    document: 2,
                    offset: 0,
                },
            ),
        ),
        (
            Wrong::EndsBackwards,
            TestError::Text(
                1,
                Error::InvalidUtf8 {
                    document: 2,
                    offset: 0,
                },
            ),
        ),
        (
            Wrong::EndsPastTheText,
            TestError::Text(
                1,
                Error::InvalidUtf8 {
                    document: 2,
                    offset: 1,
                },
            ),
        ),
    ];
    for (wrong, want) in cases {
        let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
        t.feed(&[b"hello world".as_slice()]).unwrap();
        let before = counts(&t);
        let mut parts = Groups::new(vec![docs[..2].to_vec(), docs[2..].to_vec()]);
        parts.wrong = Some((1, wrong));
        let e = t
            .feed_parts(&[b"in memory".as_slice()], &parts)
            .unwrap_err();
        assert_eq!(e, want, "{wrong:?}");
        assert_eq!(counts(&t), before, "{wrong:?}");
        assert_eq!((t.counts().documents(), t.counts().bytes()), (1, 11));
        // The trainer is as good as new: the same parts, written well, count.
        parts.wrong = None;
        t.feed_parts(&[b"in memory".as_slice()], &parts).unwrap();
        assert_eq!(t.counts().documents(), 6, "{wrong:?}");
    }
}

/// Cancelling stops a batch also inside one long text of a part, and changes nothing.
#[test]
fn cancelling_stops_a_long_text_of_a_part() {
    struct CancelsWhileWritten(std::sync::Arc<std::sync::atomic::AtomicBool>, String);
    impl Parts for CancelsWhileWritten {
        type Error = Error;
        fn len(&self) -> usize {
            1
        }
        fn bytes(&self) -> usize {
            self.1.len()
        }
        fn write(&self, _: usize, text: &mut Vec<u8>, ends: &mut Vec<usize>) -> Result<u64, Error> {
            text.extend_from_slice(self.1.as_bytes());
            ends.push(text.len());
            self.0.store(true, Ordering::Relaxed);
            Ok(1)
        }
    }
    let long = " word".repeat(1 << 20);
    let mut t = Trainer::new(GPT4_PATTERN, 2).unwrap();
    let part = CancelsWhileWritten(t.cancel_flag(), long);
    assert_eq!(t.feed_parts(&[], &part), Err(Error::Cancelled));
    assert_eq!((t.counts().documents(), t.counts().len()), (0, 0));
}
