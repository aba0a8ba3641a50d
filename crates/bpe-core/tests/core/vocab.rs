//! Vocabulary files in tiktoken's format, and the checks on what they hold.

use bpe_core::vocab::parse_tiktoken;
use bpe_core::{Error, Vocabulary, GPT4_PATTERN};
use std::io::Write;

fn bytes_vocab() -> Vec<Vec<u8>> {
    (0..=255u8).map(|b| vec![b]).collect()
}

#[test]
fn round_trip_through_a_file() {
    let v = Vocabulary::from_merges(&[(104, 101), (256, 108)], GPT4_PATTERN, &["<|x|>"]).unwrap();
    let dir = std::env::temp_dir().join(format!("bpe-vocab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v.tiktoken");
    v.save_tiktoken(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 258);
    assert!(text.ends_with("aGVs 257\n"), "{}", &text[text.len() - 20..]);
    let back = Vocabulary::load_tiktoken(&path, GPT4_PATTERN, v.special_tokens().to_vec()).unwrap();
    assert_eq!(back, v);
    // gzipped files load too
    let gz = dir.join("v.tiktoken.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    assert_eq!(
        Vocabulary::load_tiktoken(&gz, GPT4_PATTERN, v.special_tokens().to_vec()).unwrap(),
        v
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn malformed_lines_name_the_line() {
    let cases: [(&[u8], &str); 6] = [
        (b"AA== 0\nAQ==\n", "line 2: expected two fields"),
        (b"AA== 0\n!!! 1\n", "line 2: bad base64"),
        (b"AA== zero\n", "line 1: bad rank"),
        (b"AA== 0\nAQ== 0\n", "line 2: rank 0 appears twice"),
        (b"AA== 0\nAQ== 1\nAg== 3\n", "rank 2 is missing"),
        (
            b"AA== 0\nAQ== 4000000000\n",
            "line 2: rank 4000000000 is too large",
        ),
    ];
    for (data, want) in cases {
        let e = parse_tiktoken(data).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} lacks {want:?}");
    }
}

#[test]
fn a_missing_byte_or_duplicate_token_is_rejected() {
    let mut t = bytes_vocab();
    t.remove(65);
    t.push(b"xy".to_vec());
    let e = Vocabulary::new(t, GPT4_PATTERN, vec![]).unwrap_err();
    assert!(e.to_string().contains("0x41 has no rank"), "{e}");

    let mut t = bytes_vocab();
    t.push(b"ab".to_vec());
    t.push(b"ab".to_vec());
    let e = Vocabulary::new(t, GPT4_PATTERN, vec![]).unwrap_err();
    assert!(
        e.to_string()
            .contains("ranks 256 and 257 have the same bytes"),
        "{e}"
    );
}

#[test]
fn special_tokens_must_not_clash() {
    let clash = Vocabulary::new(bytes_vocab(), GPT4_PATTERN, vec![("<|a|>".into(), 10)]);
    assert!(matches!(clash, Err(Error::SpecialToken(_))));
    let twice = Vocabulary::new(
        bytes_vocab(),
        GPT4_PATTERN,
        vec![("<|a|>".into(), 300), ("<|a|>".into(), 301)],
    );
    assert!(matches!(twice, Err(Error::SpecialToken(_))));
    let v = Vocabulary::new(bytes_vocab(), GPT4_PATTERN, vec![("<|a|>".into(), 300)]).unwrap();
    assert_eq!(v.n_vocab(), 301);
    assert_eq!(v.token_bytes(300), Some(&b"<|a|>"[..]));
    assert_eq!(v.token_bytes(299), None);
}
