//! Runs the built `bpe` binary: training gives exactly bpe-core's vocabulary, every bad
//! input fails with one line naming the problem and the right exit code, and no output is
//! left behind on failure.

use bpe_core::{Trainer, GPT2_PATTERN, GPT4_PATTERN, NANOCHAT_PATTERN};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bpe-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `bpe` in `dir` with `args`, feeding `stdin`.
fn bpe(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpe"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading stdin closes it; that is not the test's concern.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "bpe failed with {:?}: {}",
        out.status.code(),
        stderr(out)
    );
}

/// The file bpe-core writes for these documents.
fn expected_tiktoken(
    pattern: &str,
    documents: &[&str],
    vocab_size: u32,
    specials: &[&str],
) -> Vec<u8> {
    let mut trainer = Trainer::new(pattern, 0).unwrap();
    let docs: Vec<&[u8]> = documents.iter().map(|d| d.as_bytes()).collect();
    trainer.feed(&docs).unwrap();
    let vocab = trainer.train(vocab_size, specials, &mut |_| true).unwrap();
    let mut out = Vec::new();
    vocab.write_tiktoken(&mut out).unwrap();
    out
}

/// Documents with enough repetition for a few hundred merges, and a bit of everything the
/// split patterns care about: contractions, digits, punctuation, whitespace runs, non-ASCII.
fn corpus(n: usize, seed: usize) -> Vec<String> {
    let words = [
        "the",
        "cat",
        "sat",
        "on",
        "mat",
        "don't",
        "we'll",
        "naïve",
        "café",
        "東京",
        "1234",
        "98",
        "hello",
        "world",
        "!!",
        "...",
        "tokenizer",
        "byte",
        "pair",
        "encoding",
    ];
    (0..n)
        .map(|i| {
            let mut d = String::new();
            for j in 0..(20 + (i * 7 + seed) % 30) {
                let w = words[(i * 31 + j * 17 + seed * 13 + j * j) % words.len()];
                d.push_str(w);
                d.push_str(match (i + j) % 9 {
                    0 => "\n",
                    1 => "  ",
                    2 => ", ",
                    _ => " ",
                });
            }
            d
        })
        .collect()
}

fn jsonl(field: &str, documents: &[String]) -> String {
    documents
        .iter()
        .map(|d| {
            format!(
                "{}\n",
                serde_json::json!({ "id": 7, field: d, "meta": {"text": 1} })
            )
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

mod train {
    use super::*;

    #[test]
    fn matches_bpe_core_on_text_and_jsonl_files_in_many_batches() {
        let dir = scratch("matches_core");
        let a = corpus(40, 1);
        let b = corpus(3, 2);
        std::fs::write(dir.join("a.jsonl"), jsonl("text", &a)).unwrap();
        std::fs::write(dir.join("b.txt"), &b[0]).unwrap();
        // Blank lines are skipped, a BOM is ignored, and \r\n line ends are fine.
        let c = format!(
            "\u{feff}{}\r\n\n   \n{}",
            serde_json::json!({"text": b[1]}),
            serde_json::json!({"text": b[2]})
        );
        std::fs::write(dir.join("c.jsonl"), c).unwrap();
        for batch_mb in ["64", "0.0005"] {
            let out = bpe(
                &dir,
                &[
                    "train",
                    "--vocab-size",
                    "330",
                    "--batch-mb",
                    batch_mb,
                    "-o",
                    "v.tiktoken",
                    "a.jsonl",
                    "b.txt",
                    "c.jsonl",
                ],
                b"",
            );
            assert_ok(&out);
            let mut docs: Vec<&str> = a.iter().map(String::as_str).collect();
            docs.extend(b.iter().map(String::as_str));
            let written = std::fs::read(dir.join("v.tiktoken")).unwrap();
            assert_eq!(written, expected_tiktoken(GPT4_PATTERN, &docs, 330, &[]));
            assert_eq!(
                bpe_core::vocab::parse_tiktoken(&written).unwrap().len(),
                330
            );
            let summary = stderr(&out);
            assert!(
                summary.contains(&format!("documents      {}\n", docs.len())),
                "{summary}"
            );
            assert!(summary.contains("merges         74 of 74\n"), "{summary}");
            assert!(summary.contains("output         v.tiktoken"), "{summary}");
            // stderr is not a terminal here, so no progress line is drawn.
            assert!(!summary.contains('\r'));
        }
        assert_eq!(
            files_in(&dir),
            ["a.jsonl", "b.txt", "c.jsonl", "v.tiktoken"]
        );
    }

    /// JSONL lines in the shapes the reader accepts: a byte-order mark first, blank lines
    /// between, `\r\n` ends, and no newline after the last; `bad` replaces the 3000th
    /// document, on line 4200.
    pub fn jsonl_file(documents: &[String], bad: Option<&str>) -> String {
        let mut file = String::from("\u{feff}");
        for (i, d) in documents.iter().enumerate() {
            let line = serde_json::json!({ "id": i, "text": d }).to_string();
            file.push_str(match bad {
                Some(bad) if i == 2999 => bad,
                _ => &line,
            });
            file.push_str(match i % 5 {
                _ if i + 1 == documents.len() => "",
                0 => "\r\n",
                // Two blank lines after every fifth line before the 3000th: 1,200 in all.
                1 if i < 2999 => "\n\n \t\n",
                _ => "\n",
            });
        }
        file
    }

    #[test]
    fn maps_large_jsonl_files_and_reads_what_it_copies() {
        let dir = scratch("mapped");
        let big: Vec<String> = corpus(6000, 8)
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{d} {i}"))
            .collect();
        let small = corpus(30, 9);
        let file = jsonl_file(&big, None);
        // At least 1 MiB, so bpe maps it instead of copying it.
        assert!(file.len() > 1 << 20, "{}", file.len());
        std::fs::write(dir.join("big.jsonl"), file).unwrap();
        std::fs::write(dir.join("small.jsonl"), jsonl("text", &small)).unwrap();
        let mut docs: Vec<&str> = big.iter().map(String::as_str).collect();
        docs.extend(small.iter().map(String::as_str));
        docs.extend(small.iter().map(String::as_str));
        let expected = expected_tiktoken(GPT4_PATTERN, &docs, 400, &[]);
        // One batch, and many batches of a file that starts after copied input and is
        // followed by more.
        for batch_mb in ["64", "0.05"] {
            let out = bpe(
                &dir,
                &[
                    "train",
                    "--vocab-size",
                    "400",
                    "--batch-mb",
                    batch_mb,
                    "-o",
                    "v",
                    "small.jsonl",
                    "big.jsonl",
                    "small.jsonl",
                ],
                b"",
            );
            assert_ok(&out);
            assert_eq!(
                std::fs::read(dir.join("v")).unwrap(),
                expected,
                "{batch_mb}"
            );
            let summary = stderr(&out);
            assert!(summary.contains("documents      6,060\n"), "{summary}");
        }
    }

    #[test]
    // The child is reaped by `wait4`, which clippy does not see.
    #[allow(clippy::zombie_processes)]
    fn a_mapped_file_is_let_go_as_it_is_counted() {
        let dir = scratch("let_go");
        let line = format!("{}\n", serde_json::json!({"text": corpus(1, 12)[0]}));
        let path = dir.join("big.jsonl");
        // Written a line at a time: a child's peak memory starts at its parent's at the
        // fork, so this process must not hold the file's 96 MB either.
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for _ in 0..(96 << 20) / line.len() {
            file.write_all(line.as_bytes()).unwrap();
        }
        file.flush().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bpe"))
            .args(["train", "--vocab-size", "300", "--batch-mb", "1", "-o", "v"])
            .arg(&path)
            .current_dir(&dir)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The child's own peak memory, which `Child::wait` does not report.
        let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
        // SAFETY: waits for our own child, writing into the two locals.
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        assert_eq!(pid, child.id() as i32);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        // A few batches of 1 MB are in flight at a time; the 96 MB of the file that were
        // counted must not stay in memory.
        let peak_mb = usage.ru_maxrss / 1024;
        assert!(peak_mb < 40, "peak {peak_mb} MB");
    }

    #[test]
    fn presets_and_patterns_choose_the_split() {
        let dir = scratch("patterns");
        let docs = corpus(30, 3);
        std::fs::write(dir.join("d.jsonl"), jsonl("text", &docs)).unwrap();
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        for (args, pattern) in [
            (&["--preset", "nanochat"][..], NANOCHAT_PATTERN),
            (&["--preset", "gpt2"][..], GPT2_PATTERN),
            (&["--pattern", r"\w+|\s+|[^\w\s]+"][..], r"\w+|\s+|[^\w\s]+"),
        ] {
            let mut full = vec![
                "train",
                "--vocab-size",
                "400",
                "-o",
                "v.tiktoken",
                "d.jsonl",
            ];
            full.extend_from_slice(args);
            assert_ok(&bpe(&dir, &full, b""));
            let written = std::fs::read(dir.join("v.tiktoken")).unwrap();
            assert_eq!(
                written,
                expected_tiktoken(pattern, &docs, 400, &[]),
                "{args:?}"
            );
        }
    }

    #[test]
    fn text_field_picks_another_field() {
        let dir = scratch("text_field");
        let docs = corpus(20, 4);
        std::fs::write(dir.join("d.jsonl"), jsonl("content", &docs)).unwrap();
        let out = bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "300",
                "--text-field",
                "content",
                "-o",
                "v",
                "d.jsonl",
            ],
            b"",
        );
        assert_ok(&out);
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        assert_eq!(
            std::fs::read(dir.join("v")).unwrap(),
            expected_tiktoken(GPT4_PATTERN, &docs, 300, &[])
        );
        // Without the option the field is `text`, which these lines lack.
        let out = bpe(
            &dir,
            &["train", "--vocab-size", "300", "-o", "v2", "d.jsonl"],
            b"",
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "bpe: error: d.jsonl: line 1: no field \"text\"\n"
        );
    }

    #[test]
    fn reads_stdin_as_one_document_or_as_jsonl() {
        let dir = scratch("stdin");
        let docs = corpus(10, 5);
        let whole = docs.concat();
        let out = bpe(
            &dir,
            &["train", "--vocab-size", "300", "-o", "v", "-"],
            whole.as_bytes(),
        );
        assert_ok(&out);
        assert_eq!(
            std::fs::read(dir.join("v")).unwrap(),
            expected_tiktoken(GPT4_PATTERN, &[&whole], 300, &[])
        );
        assert!(stderr(&out).contains("documents      1\n"));

        let out = bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "300",
                "--stdin-jsonl",
                "-o",
                "v",
                "-",
            ],
            jsonl("text", &docs).as_bytes(),
        );
        assert_ok(&out);
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        assert_eq!(
            std::fs::read(dir.join("v")).unwrap(),
            expected_tiktoken(GPT4_PATTERN, &docs, 300, &[])
        );
        assert!(stderr(&out).contains("documents      10\n"));
    }

    #[test]
    fn special_tokens_take_the_last_ids() {
        let dir = scratch("specials");
        let docs = corpus(20, 6);
        std::fs::write(dir.join("d.jsonl"), jsonl("text", &docs)).unwrap();
        let out = bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "300",
                "--special-token",
                "<|bos|>",
                "--special-token=<|eos|>",
                "-o",
                "v",
                "d.jsonl",
            ],
            b"",
        );
        assert_ok(&out);
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let written = std::fs::read(dir.join("v")).unwrap();
        // The file holds the ranks only: 298 of them.
        assert_eq!(
            written,
            expected_tiktoken(GPT4_PATTERN, &docs, 300, &["<|bos|>", "<|eos|>"])
        );
        assert_eq!(
            bpe_core::vocab::parse_tiktoken(&written).unwrap().len(),
            298
        );
        let summary = stderr(&out);
        assert!(
            summary.contains("<|bos|> = 298, <|eos|> = 299"),
            "{summary}"
        );

        let out = bpe(
            &dir,
            &[
                "encode",
                "--vocab",
                "v",
                "--special-token",
                "<|bos|>",
                "--special-token",
                "<|eos|>",
                "<|eos|>the cat<|bos|>",
            ],
            b"",
        );
        assert_ok(&out);
        let ids: Vec<u32> = stdout(&out)
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(ids.first(), Some(&299));
        assert_eq!(ids.last(), Some(&298));
    }

    #[test]
    fn says_when_it_stops_early() {
        let dir = scratch("early");
        let out = bpe(
            &dir,
            &["train", "--vocab-size", "5000", "-o", "v", "-"],
            b"abcabc abc",
        );
        assert_ok(&out);
        assert!(
            stderr(&out).contains("(stopped early: no pair left to merge)"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            bpe_core::vocab::parse_tiktoken(&std::fs::read(dir.join("v")).unwrap())
                .unwrap()
                .len(),
            260
        );
    }

    #[test]
    fn replaces_an_existing_output_only_on_success() {
        let dir = scratch("replace");
        std::fs::write(dir.join("v"), "old").unwrap();
        std::fs::write(
            dir.join("bad.jsonl"),
            "{\"text\": \"fine\"}\n{\"text\": 3}\n",
        )
        .unwrap();
        let out = bpe(
            &dir,
            &["train", "--vocab-size", "300", "-o", "v", "bad.jsonl"],
            b"",
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(std::fs::read_to_string(dir.join("v")).unwrap(), "old");
        assert_eq!(files_in(&dir), ["bad.jsonl", "v"]);
        assert_ok(&bpe(
            &dir,
            &["train", "--vocab-size", "300", "-o", "v", "-"],
            b"new text",
        ));
        assert_eq!(
            bpe_core::vocab::parse_tiktoken(&std::fs::read(dir.join("v")).unwrap())
                .unwrap()
                .len(),
            262
        );
        assert_eq!(files_in(&dir), ["bad.jsonl", "v"]);
    }
}

mod errors {
    use super::*;

    /// Runs a `bpe train` that must fail: exit code `code`, exactly one line on stderr that
    /// is `bpe: error: ` + `message`, and the directory unchanged (no output, no temp file).
    fn fails(name: &str, files: &[(&str, &[u8])], args: &[&str], code: i32, message: &str) {
        let dir = scratch(name);
        for (file, data) in files {
            std::fs::write(dir.join(file), data).unwrap();
        }
        let before = files_in(&dir);
        let out = bpe(&dir, args, b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(err, format!("bpe: error: {message}\n"), "{args:?}");
        assert_eq!(files_in(&dir), before, "{args:?} left a file behind");
    }

    const GOOD: (&str, &[u8]) = ("good.jsonl", b"{\"text\": \"hello world\"}\n");

    #[test]
    fn vocab_size_below_the_minimum() {
        fails(
            "small",
            &[GOOD],
            &["train", "--vocab-size", "255", "-o", "v", "good.jsonl"],
            1,
            "vocab size 255 is too small: the minimum is 256 (256 byte tokens + 0 special tokens)",
        );
        fails(
            "small_specials",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "257",
                "--special-token",
                "<a>",
                "--special-token",
                "<b>",
                "-o",
                "v",
                "good.jsonl",
            ],
            1,
            "vocab size 257 is too small: the minimum is 258 (256 byte tokens + 2 special tokens)",
        );
    }

    #[test]
    fn bad_special_tokens() {
        fails(
            "special_twice",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "--special-token",
                "<a>",
                "--special-token",
                "<a>",
                "-o",
                "v",
                "good.jsonl",
            ],
            1,
            "invalid special token: \"<a>\" appears twice",
        );
        fails(
            "special_empty",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "--special-token",
                "",
                "-o",
                "v",
                "good.jsonl",
            ],
            1,
            "invalid special token: a special token is the empty string",
        );
    }

    #[test]
    fn pattern_that_does_not_compile() {
        let dir = scratch("pattern");
        std::fs::write(dir.join("good.jsonl"), GOOD.1).unwrap();
        let out = bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "300",
                "--pattern",
                "(?<",
                "-o",
                "v",
                "good.jsonl",
            ],
            b"",
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("bpe: error: invalid split pattern: \"(?<\""),
            "{err}"
        );
        assert_eq!(files_in(&dir), ["good.jsonl"]);
        // An error from the inner regex engine is drawn on several lines; it still makes one.
        let out = bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "300",
                "--pattern",
                r"\p{Nope}",
                "-o",
                "v",
                "good.jsonl",
            ],
            b"",
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("bpe: error: invalid split pattern: "),
            "{err}"
        );
    }

    #[test]
    fn unreadable_inputs() {
        fails(
            "missing",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "-o",
                "v",
                "good.jsonl",
                "missing.jsonl",
            ],
            1,
            "cannot read missing.jsonl: No such file or directory (os error 2)",
        );
        fails(
            "directory",
            &[GOOD],
            &["train", "--vocab-size", "300", "-o", "v", "good.jsonl", "."],
            1,
            "cannot read .: it is a directory",
        );
        fails(
            "output_dir",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "-o",
                "nowhere/v",
                "good.jsonl",
            ],
            1,
            "cannot write nowhere/v: No such file or directory (os error 2)",
        );
    }

    #[test]
    fn malformed_jsonl() {
        let cases: [(&str, &[u8], &str); 8] = [
            (
                "missing",
                b"{\"text\": \"a\"}\n{\"body\": \"b\"}\n",
                "d.jsonl: line 2: no field \"text\"",
            ),
            (
                "number",
                b"{\"text\": \"a\"}\n\n{\"text\": 42}\n",
                "d.jsonl: line 3: field \"text\" is not a string (it is a number)",
            ),
            (
                "null",
                b"{\"text\": null}",
                "d.jsonl: line 1: field \"text\" is not a string (it is null)",
            ),
            (
                // The shortest last line, with no newline after it, is still read.
                "one byte at the end",
                b"{\"text\": \"a\"}\n5",
                "d.jsonl: line 2: not a JSON object (it is a number)",
            ),
            (
                "array",
                b"[\"text\"]\n",
                "d.jsonl: line 1: not a JSON object (it is an array)",
            ),
            (
                "truncated",
                b"{\"text\": \"a\"}\n{\"text\": \"b",
                "d.jsonl: line 2: invalid JSON: EOF while parsing a string (column 11)",
            ),
            (
                "trailing",
                b"{\"text\": \"a\"} {}\n",
                "d.jsonl: line 1: invalid JSON: trailing characters (column 15)",
            ),
            (
                "surrogate",
                b"{\"text\": \"\\ud800\"}\n",
                "d.jsonl: line 1: invalid JSON: unexpected end of hex escape (column 17)",
            ),
        ];
        for (name, data, message) in cases {
            fails(
                &format!("jsonl_{name}"),
                &[("d.jsonl", data)],
                &["train", "--vocab-size", "300", "-o", "v", "d.jsonl"],
                1,
                message,
            );
        }
    }

    #[test]
    fn malformed_jsonl_after_many_batches() {
        // The error surfaces from the reader thread while the trainer counts earlier batches.
        let mut data = String::new();
        for _ in 0..5000 {
            data.push_str("{\"text\": \"some words to count\"}\n");
        }
        data.push_str("{\"text\": false}\n");
        fails(
            "late",
            &[("d.jsonl", data.as_bytes())],
            &[
                "train",
                "--vocab-size",
                "300",
                "--batch-mb",
                "0.001",
                "-o",
                "v",
                "d.jsonl",
            ],
            1,
            "d.jsonl: line 5001: field \"text\" is not a string (it is a boolean)",
        );
    }

    /// Trains on `big.jsonl` (a mapped file, in the tests that use it) in batches of 0.1 MB.
    const TRAIN_BIG: [&str; 8] = [
        "train",
        "--vocab-size",
        "300",
        "--batch-mb",
        "0.1",
        "-o",
        "v",
        "big.jsonl",
    ];

    #[test]
    fn malformed_jsonl_in_a_mapped_file() {
        let docs = corpus(6000, 10);
        let file = super::train::jsonl_file(&docs, Some("{\"text\": [1]}"));
        assert!(file.len() > 1 << 20);
        fails(
            "mapped_bad_line",
            &[("big.jsonl", file.as_bytes())],
            &TRAIN_BIG,
            1,
            "big.jsonl: line 4200: field \"text\" is not a string (it is an array)",
        );
        // Invalid UTF-8 in the text is found by the trainer, which names the document by
        // its place in the batch; the line is found from there. (A NUL stands for the bad
        // byte, which a `String` cannot hold.)
        let file = super::train::jsonl_file(&docs, Some("{\"text\": \"ok \u{0}\"}"));
        let file: Vec<u8> = (file.bytes())
            .map(|b| if b == 0 { 0xff } else { b })
            .collect();
        fails(
            "mapped_bad_utf8",
            &[("big.jsonl", &file)],
            &TRAIN_BIG,
            1,
            "big.jsonl: line 4200: not valid UTF-8 (first bad byte at offset 3)",
        );
    }

    #[test]
    fn a_mapped_file_truncated_while_read() {
        let dir = scratch("truncated");
        let line = format!("{}\n", serde_json::json!({"text": corpus(1, 11)[0]}));
        let path = dir.join("big.jsonl");
        std::fs::write(&path, line.repeat((64 << 20) / line.len())).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bpe"))
            .args(TRAIN_BIG)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the file is mapped, bpe has read at most a few batches of its 64 MB: the
        // reader stays two batches ahead of counting.
        let maps = format!("/proc/{}/maps", child.id());
        while !std::fs::read_to_string(&maps)
            .unwrap()
            .contains(path.to_str().unwrap())
        {
            std::thread::yield_now();
        }
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "bpe: error: an input file was truncated while it was read\n"
        );
        assert_eq!(files_in(&dir), ["big.jsonl"]);
    }

    #[test]
    fn invalid_utf8_in_plain_text() {
        fails(
            "utf8",
            &[GOOD, ("t.txt", b"caf\xc3\xa9 ok \xff\xfe")],
            &[
                "train",
                "--vocab-size",
                "300",
                "-o",
                "v",
                "good.jsonl",
                "t.txt",
            ],
            1,
            "t.txt: not valid UTF-8 (first bad byte at offset 9)",
        );
    }

    #[test]
    fn usage_errors_exit_with_2() {
        fails(
            "preset",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "--preset",
                "gpt5",
                "-o",
                "v",
                "good.jsonl",
            ],
            2,
            "unknown preset \"gpt5\": expected gpt4, nanochat or gpt2 (see `bpe --help`)",
        );
        fails(
            "no_output",
            &[GOOD],
            &["train", "--vocab-size", "300", "good.jsonl"],
            2,
            "bpe train needs --output FILE (see `bpe --help`)",
        );
        fails(
            "not_a_number",
            &[GOOD],
            &["train", "--vocab-size", "lots", "-o", "v", "good.jsonl"],
            2,
            "invalid value \"lots\" for --vocab-size: expected a whole number (see `bpe --help`)",
        );
        fails(
            "unknown_option",
            &[GOOD],
            &["train", "--vocab", "300", "-o", "v", "good.jsonl"],
            2,
            "unknown option --vocab (see `bpe --help`)",
        );
        fails(
            "both",
            &[GOOD],
            &[
                "train",
                "--vocab-size",
                "300",
                "--preset",
                "gpt2",
                "--pattern",
                "x",
                "-o",
                "v",
                "good.jsonl",
            ],
            2,
            "--pattern and --preset cannot be used together (see `bpe --help`)",
        );
        fails("no_input", &[], &["train", "--vocab-size", "300", "-o", "v"], 2,
            "bpe train needs at least one INPUT (a file, or - for standard input) (see `bpe --help`)");
        fails(
            "command",
            &[],
            &["tran"],
            2,
            "unknown command \"tran\": expected train, encode or decode (see `bpe --help`)",
        );
    }

    #[test]
    fn help_is_not_an_error() {
        let dir = scratch("help");
        for args in [
            &["--help"][..],
            &["train", "--help"],
            &["encode", "-h"],
            &["decode", "--help"],
            &[],
        ] {
            let out = bpe(&dir, args, b"");
            assert_ok(&out);
            assert!(stdout(&out).contains("Usage"), "{args:?}");
        }
    }
}

mod encode {
    use super::*;

    fn trained(name: &str) -> PathBuf {
        let dir = scratch(name);
        let docs = corpus(30, 7);
        std::fs::write(dir.join("d.jsonl"), jsonl("text", &docs)).unwrap();
        assert_ok(&bpe(
            &dir,
            &[
                "train",
                "--vocab-size",
                "500",
                "--preset",
                "nanochat",
                "-o",
                "v",
                "d.jsonl",
            ],
            b"",
        ));
        dir
    }

    #[test]
    fn round_trips_through_decode() {
        let dir = trained("round_trip");
        let text = "the cat sat on the mat, naïve café 東京 12345!!\n\n  tokenizer";
        let out = bpe(
            &dir,
            &["encode", "--vocab", "v", "--preset", "nanochat", text],
            b"",
        );
        assert_ok(&out);
        let ids = stdout(&out);
        assert!(ids.ends_with('\n'));
        let ids: Vec<&str> = ids.split_whitespace().collect();
        assert!(ids.len() < text.len(), "merges should shorten the text");

        // The same ids from stdin.
        let from_stdin = bpe(
            &dir,
            &["encode", "--vocab", "v", "--preset", "nanochat"],
            text.as_bytes(),
        );
        assert_ok(&from_stdin);
        assert_eq!(
            stdout(&from_stdin).split_whitespace().collect::<Vec<_>>(),
            ids
        );

        let mut args = vec!["decode", "--vocab", "v"];
        args.extend(&ids);
        let out = bpe(&dir, &args, b"");
        assert_ok(&out);
        assert_eq!(out.stdout, text.as_bytes());

        let joined = ids.join(" ");
        let out = bpe(&dir, &["decode", "--vocab", "v"], joined.as_bytes());
        assert_ok(&out);
        assert_eq!(out.stdout, text.as_bytes());
    }

    #[test]
    fn bad_ids_and_vocabularies() {
        let dir = trained("bad_ids");
        let out = bpe(&dir, &["decode", "--vocab", "v", "1", "99999"], b"");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "bpe: error: token id 99999 is not in the vocabulary\n"
        );
        let out = bpe(&dir, &["decode", "--vocab", "v", "1", "x"], b"");
        assert_eq!(out.status.code(), Some(2));
        let out = bpe(&dir, &["encode", "--vocab", "nope", "hi"], b"");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "bpe: error: cannot read nope: No such file or directory (os error 2)\n"
        );
        std::fs::write(dir.join("broken"), "aGk= 0\nnot base64 1\n").unwrap();
        let out = bpe(&dir, &["encode", "--vocab", "broken", "hi"], b"");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).starts_with("bpe: error: invalid vocabulary: broken: line 2"),
            "{}",
            stderr(&out)
        );
    }
}
