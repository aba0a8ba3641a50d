//! The fast path for the common line: an object whose values are all strings, such as
//! `{"text": "..."}`. Strings are scanned 16 bytes at a time for the bytes that end a plain
//! run (a quote, a backslash, a control character), each run is copied whole, and escapes
//! of one byte are decoded without leaving the loop: serde_json looks at every byte and
//! parses the corpus at about 0.6 GB/s, which made the parse a third of the CLI's work. Anything else, and anything wrong, is left to serde_json,
//! which then also explains what is wrong. The tests compare the two on generated lines.
//!
//! The field's text is not checked for UTF-8 here: the trainer checks every document. Other
//! strings are, so that no line serde_json would reject passes.

/// Appends the string in `field` to `out` and returns true if `line` is an object of
/// string values with that field (the last one wins, as with serde_json); otherwise
/// returns false, with `out` possibly holding part of a value (the caller truncates it).
pub fn parse_line(line: &[u8], field: &str, out: &mut Vec<u8>) -> bool {
    let mut c = Cursor { b: line, i: 0 };
    let start = out.len();
    let found = c.object(field.as_bytes(), start, out).unwrap_or(false);
    c.skip_whitespace();
    found && c.i == line.len()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Skips whitespace, then takes `byte` or fails.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (*self.b.get(self.i)? == byte).then(|| self.i += 1)
    }

    /// `{ "key": "value", ... }`, the field's value appended to `out` (after `start`).
    fn object(&mut self, field: &[u8], start: usize, out: &mut Vec<u8>) -> Option<bool> {
        self.expect(b'{')?;
        let mut found = false;
        loop {
            self.expect(b'"')?;
            // A key with an escape is left to serde_json: keys are short and plain.
            let key_start = self.i;
            let key_end = key_start + self.plain_run();
            if self.b.get(key_end) != Some(&b'"') {
                return None;
            }
            let key = &self.b[key_start..key_end];
            std::str::from_utf8(key).ok()?;
            self.i = key_end + 1;
            self.expect(b':')?;
            self.expect(b'"')?;
            if key == field {
                out.truncate(start);
                self.string(out)?;
                found = true;
            } else {
                let from = out.len();
                self.string(out)?;
                std::str::from_utf8(&out[from..]).ok()?;
                out.truncate(from);
            }
            self.skip_whitespace();
            match self.b.get(self.i)? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(found);
                }
                _ => return None,
            }
        }
    }

    /// The rest of a string whose opening quote is taken, decoded into `out`.
    fn string(&mut self, out: &mut Vec<u8>) -> Option<()> {
        // Decoded text is never longer than its JSON, so room for the rest of the line is
        // enough for any string in it, also for the 16-byte stores of `copy_run`.
        out.reserve(self.b.len() - self.i);
        loop {
            // SAFETY: `out` has room for the rest of the line past its length, and every
            // byte decoded since the reserve took at least one byte of the line.
            unsafe { self.copy_run(out) };
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => self.escape(out)?,
                _ => return None, // a control character, which JSON does not allow raw
            }
        }
    }

    /// At a backslash: one escape, decoded into `out`. (`copy_run` takes those of one
    /// byte, `\n` and the like, as it goes; this is left the rest.)
    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let next = *self.b.get(self.i + 1)?;
        let byte = match ONE_BYTE_ESCAPES[next as usize] {
            0 if next == b'u' => {
                let unit = self.hex4(self.i + 2)?;
                self.i += 6;
                let code = match unit {
                    0xd800..=0xdbff => {
                        // A high surrogate must be followed by an escaped low one.
                        if self.b.get(self.i..self.i + 2)? != b"\\u" {
                            return None;
                        }
                        let low = self.hex4(self.i + 2)?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return None;
                        }
                        self.i += 6;
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => return None,
                    _ => unit,
                };
                let c = char::from_u32(code)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Some(());
            }
            0 => return None,
            byte => byte,
        };
        out.push(byte);
        self.i += 2;
        Some(())
    }

    /// Four hex digits at `at`.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.b.get(at..at + 4)?;
        digits.iter().try_fold(0, |n, &d| {
            let v = (d as char).to_digit(16)?;
            Some(n * 16 + v)
        })
    }

    /// The length of the run from the cursor to the next quote, backslash or control
    /// character (or to the end).
    fn plain_run(&self) -> usize {
        let rest = &self.b[self.i..];
        rest.iter()
            .position(|&b| is_special(b))
            .unwrap_or(rest.len())
    }

    /// Appends to `out` the text from the cursor up to the string's closing quote, a `\u`
    /// escape, a bad escape, a control character or the end of the line, and moves the
    /// cursor there. Bytes are copied 16 at a time before they are looked at, and escapes
    /// of one byte (`\n`, `\"`, ...) are decoded on the way: corpus text has one every few
    /// dozen bytes, and leaving each to the caller cost as much as all the copying.
    ///
    /// # Safety
    /// `out` has spare capacity for the rest of the line.
    #[inline]
    unsafe fn copy_run(&mut self, out: &mut Vec<u8>) {
        let rest = &self.b[self.i..];
        debug_assert!(out.capacity() - out.len() >= rest.len());
        let dst = out.as_mut_ptr().add(out.len());
        // Bytes read, and bytes written: never more than read, as an escape of two bytes
        // decodes to one, so every store below lands in the spare capacity.
        let (mut n, mut m) = (0, 0);
        loop {
            #[cfg(target_arch = "x86_64")]
            while n + 16 <= rest.len() {
                use std::arch::x86_64::*;
                // SSE2 is part of x86_64; the load reads rest[n..n + 16] and the store
                // writes dst[m..m + 16] with m <= n, both in bounds.
                let v = _mm_loadu_si128(rest.as_ptr().add(n) as *const __m128i);
                _mm_storeu_si128(dst.add(m) as *mut __m128i, v);
                let mask = specials16(v);
                if mask != 0 {
                    let k = mask.trailing_zeros() as usize;
                    n += k;
                    m += k;
                    break;
                }
                n += 16;
                m += 16;
            }
            while n < rest.len() && !is_special(rest[n]) {
                *dst.add(m) = rest[n];
                n += 1;
                m += 1;
            }
            // At a special byte or the end: go on past an escape of one byte.
            match rest.get(n..n + 2) {
                Some(&[b'\\', next]) if ONE_BYTE_ESCAPES[next as usize] != 0 => {
                    *dst.add(m) = ONE_BYTE_ESCAPES[next as usize];
                    n += 2;
                    m += 1;
                }
                _ => break,
            }
        }
        self.i += n;
        out.set_len(out.len() + m);
    }
}

/// What each escape of one byte (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`) stands
/// for, indexed by the byte after the backslash; 0 for every other byte.
const ONE_BYTE_ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t[b'n' as usize] = b'\n';
    t[b'r' as usize] = b'\r';
    t[b't' as usize] = b'\t';
    t
};

/// A byte that ends a plain run.
#[inline(always)]
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// A bit for each of the 16 bytes of `v` that [`is_special`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn specials16(v: std::arch::x86_64::__m128i) -> u32 {
    use std::arch::x86_64::*;
    let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
    let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
    // Unsigned v <= 0x1f: the unsigned maximum of v and 0x1f is 0x1f.
    let low = _mm_set1_epi8(0x1f);
    let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
    _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
}

#[cfg(test)]
mod tests {
    use super::super::{parse_line_serde, Line};
    use proptest::prelude::*;

    /// The fast path's text, or `None` where it leaves the line to serde_json.
    fn fast(line: &[u8]) -> Option<Vec<u8>> {
        let mut out = b"prefix".to_vec();
        super::parse_line(line, "text", &mut out).then(|| out[6..].to_vec())
    }

    /// serde_json's text, or `None` where the line holds no text.
    fn serde(line: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        matches!(parse_line_serde(line, "text", &mut out), Ok(Line::Text)).then_some(out)
    }

    /// JSON for `s` with every character outside printable ASCII as `\u` escapes
    /// (surrogate pairs above the BMP), as Python's `json.dumps` writes by default.
    fn ascii_json(s: &str) -> String {
        let mut j = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => j.push_str("\\\""),
                '\\' => j.push_str("\\\\"),
                ' '..='~' => j.push(c),
                _ => {
                    let mut units = [0; 2];
                    for u in c.encode_utf16(&mut units) {
                        j.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
        j + "\""
    }

    #[test]
    fn agrees_with_serde_on_lines_it_takes() {
        let lines: &[&str] = &[
            r#"{"text": "plain"}"#,
            r#"{"text":""}"#,
            "  {\t\"text\" :\r\n \"a\"  }  ",
            r#"{"text": "q\" b\\ s\/ \b\f\n\r\t"}"#,
            r#"{"text": "\u00e9\u4e2d\ud83d\ude00 \u0041\uFFFF"}"#,
            r#"{"id": "x\ny", "text": "a", "url": "\u00e9"}"#,
            r#"{"text": "one", "text": "two"}"#,
            r#"{"text": "0123456789abcde\"0123456789abcdef\\0123456789abcdefg"}"#,
            "{\"text\": \"caf\u{e9} \u{1f600} \u{7f}\"}",
        ];
        for line in lines {
            let want = serde(line.as_bytes());
            assert!(want.is_some(), "{line}");
            assert_eq!(fast(line.as_bytes()), want, "{line}");
        }
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        let lines: &[&[u8]] = &[
            b"",
            b"   ",
            b"[\"text\"]",
            b"{}",
            b"{\"body\": \"a\"}",
            b"{\"text\": 1}",
            b"{\"text\": \"a\", \"n\": 1}",
            b"{\"text\": \"a\", \"o\": {}}",
            b"{\"te\\u0078t\": \"a\"}",
            b"{\"text\": \"a\"} x",
            b"{\"text\": \"a\",}",
            b"{\"text\": \"a\"",
            b"{\"text\": \"a",
            b"{\"text\": \"\\ud800\"}",
            b"{\"text\": \"\\ud800\\u0041\"}",
            b"{\"text\": \"\\udc00\"}",
            b"{\"text\": \"\\u12g4\"}",
            b"{\"text\": \"\\u00\"}",
            b"{\"text\": \"\\u+123\"}",
            b"{\"text\": \"\\x\"}",
            b"{\"text\": \"tab\there\"}",
            b"{\"text\": \"nul\x00\"}",
            b"{\"id\": \"\xff\", \"text\": \"a\"}",
            b"{\"\xff\": \"b\", \"text\": \"a\"}",
        ];
        for line in lines {
            assert_eq!(fast(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text, written by serde_json or as ASCII with `\u` escapes, among other
        /// string fields: the fast path takes the line and reads what serde_json reads.
        #[test]
        fn reads_any_text_as_serde_does(
            text in any::<String>(),
            other in "[a-z\"\\\\\n\u{e9}]{0,20}",
            ascii in any::<bool>(),
            first in any::<bool>(),
        ) {
            let value = match ascii {
                true => ascii_json(&text),
                false => serde_json::to_string(&text).unwrap(),
            };
            let other = serde_json::to_string(&other).unwrap();
            let line = match first {
                true => format!("{{\"text\": {value}, \"id\": {other}}}"),
                false => format!("{{\"id\":{other},\"text\":{value}}}"),
            };
            prop_assert_eq!(fast(line.as_bytes()), Some(text.into_bytes()));
        }

        /// Text dense with escapes of every kind, between runs of every length, so that
        /// escapes fall at every offset of the 16-byte blocks and follow one another.
        #[test]
        fn reads_escapes_anywhere_as_serde_does(
            parts in prop::collection::vec(prop_oneof![
                "[a-z \u{e9}]{0,40}",
                prop::sample::select(vec![
                    r#"\n"#, r#"\""#, r#"\\"#, r#"\/"#, r#"\b"#, r#"\f"#, r#"\r"#, r#"\t"#,
                    r#"\u00e9"#, r#"\ud83d\ude00"#, r#"\u000a"#,
                ]).prop_map(String::from),
            ], 0..30),
        ) {
            let line = format!("{{\"text\": \"{}\"}}", parts.concat());
            let want = serde(line.as_bytes());
            prop_assert!(want.is_some());
            prop_assert_eq!(fast(line.as_bytes()), want);
        }

        /// A line with a byte changed: whatever the fast path takes, serde_json takes and
        /// reads the same way.
        #[test]
        fn never_takes_what_serde_would_not(
            text in "[a-z \"\\\\\u{e9}\u{1f600}\n]{0,40}",
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(
                b"\"\\/{}[]:, \t\r\n0123456789abcdefuxDd\x00\x1f\x7f\xc3\xa9\xff".to_vec()),
        ) {
            let value = serde_json::to_string(&text).unwrap();
            let mut line = format!("{{\"id\": \"7\", \"text\": {value}}}").into_bytes();
            let i = at.index(line.len());
            line[i] = byte;
            if let Some(text) = fast(&line) {
                // Invalid UTF-8 in the field is for the trainer to find; serde_json
                // finds it first.
                if std::str::from_utf8(&text).is_ok() {
                    prop_assert_eq!(Some(text), serde(&line));
                }
            }
        }
    }
}
