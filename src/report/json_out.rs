//! A streaming JSON writer with serde_json's pretty layout (two-space
//! indent, `"key": value`, `[]` and `{}` when empty), byte for byte. Takes
//! values one at a time, hands bytes to a writer in large chunks; never
//! builds a tree or copies a string it is given more than once.

use std::io::{self, Write};

pub struct JsonOut<W: Write> {
    /// Text not yet handed to `sink`: small writes go into a string, which
    /// is much cheaper per call than any `Write` (and, unlike bytes, needs
    /// no check to become the string [`JsonOut::into_string`] returns).
    out: String,
    sink: W,
    depth: usize,
    /// Whether the innermost open array or object has a value yet.
    has_value: bool,
    /// `out` goes to `sink` once it holds this many bytes.
    chunk: usize,
}

const CHUNK: usize = 1 << 16;

/// A comma, a line break and enough spaces for 32 levels: an item's start is
/// one slice of it (without the comma for the first item).
const BREAK: &str = ",\n                                                                ";
const INDENT: &str = BREAK.split_at(2).1;

impl JsonOut<io::Sink> {
    /// An in-memory writer for a value that will stand at `depth` inside
    /// another writer's output (written once, copied in with
    /// [`JsonOut::raw`]).
    pub fn nested(depth: usize) -> JsonOut<io::Sink> {
        JsonOut {
            out: String::new(),
            sink: io::sink(),
            depth,
            has_value: false,
            chunk: usize::MAX,
        }
    }

    /// An in-memory writer for items of an array open at `depth` in
    /// another writer, after `before` items there, writing into `out`
    /// (cleared; its room kept): the batches of a long array can be
    /// written on threads of their own, then handed on in order with
    /// [`JsonOut::items`].
    pub fn items_at(depth: usize, before: usize, mut out: String) -> JsonOut<io::Sink> {
        out.clear();
        JsonOut {
            out,
            sink: io::sink(),
            depth,
            has_value: before != 0,
            chunk: usize::MAX,
        }
    }

    /// Everything written.
    pub fn into_string(self) -> String {
        self.out
    }
}

impl<W: Write> JsonOut<W> {
    pub fn new(sink: W) -> JsonOut<W> {
        JsonOut {
            out: String::with_capacity(CHUNK + 4096),
            sink,
            depth: 0,
            has_value: false,
            chunk: CHUNK,
        }
    }

    /// Hands what is written so far to the sink once there is a chunk of
    /// it; call between values.
    #[inline]
    pub fn flush_some(&mut self) -> io::Result<()> {
        if self.out.len() >= self.chunk {
            self.sink.write_all(self.out.as_bytes())?;
            self.out.clear();
        }
        Ok(())
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// A value written by a `nested` writer of this depth.
    #[inline]
    pub fn raw(&mut self, value: &str) -> io::Result<()> {
        self.out.push_str(value);
        Ok(())
    }

    /// Items of the array open here, written by an [`JsonOut::items_at`]
    /// writer: a large batch goes to the sink as it is, not copied.
    pub fn items(&mut self, written: &str) -> io::Result<()> {
        if written.is_empty() {
            return Ok(());
        }
        if written.len() <= self.chunk.saturating_sub(self.out.len()) {
            self.out.push_str(written);
        } else {
            self.sink.write_all(self.out.as_bytes())?;
            self.out.clear();
            self.sink.write_all(written.as_bytes())?;
        }
        self.has_value = true;
        Ok(())
    }

    /// Everything written, handed to the sink; the sink back.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.sink.write_all(self.out.as_bytes())?;
        Ok(self.sink)
    }

    /// A line break and the indent of `depth`, after a comma when `comma`.
    #[inline]
    fn line_break(&mut self, comma: bool) {
        let from = usize::from(!comma);
        match BREAK.get(from..2 + self.depth * 2) {
            Some(text) => self.out.push_str(text),
            None => {
                self.out.push_str(&BREAK[from..2]);
                for _ in 0..self.depth {
                    self.out.push_str("  ");
                }
            }
        }
    }

    /// Before a value in an array, or a key in an object.
    #[inline]
    fn next_item(&mut self) {
        self.line_break(self.has_value);
        self.has_value = true;
    }

    #[inline]
    pub fn begin_object(&mut self) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        self.out.push('{');
        Ok(())
    }

    #[inline]
    pub fn end_object(&mut self) -> io::Result<()> {
        self.end('}')
    }

    #[inline]
    pub fn begin_array(&mut self) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        self.out.push('[');
        Ok(())
    }

    #[inline]
    pub fn end_array(&mut self) -> io::Result<()> {
        self.end(']')
    }

    #[inline]
    fn end(&mut self, close: char) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line_break(false);
        }
        // The enclosing array or object has a value now: this one.
        self.has_value = true;
        self.out.push(close);
        Ok(())
    }

    /// `"key": ` in an object; the value follows. Keys are this program's
    /// own names, which need no escaping.
    #[inline]
    pub fn key(&mut self, key: &'static str) -> io::Result<()> {
        debug_assert!(key.bytes().all(|b| ESCAPE[b as usize] == 0));
        self.next_item();
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\": ");
        Ok(())
    }

    /// A key that is not the first of an object at `depth`, written
    /// beforehand with its comma, line break, indent and `": ` (and maybe
    /// its value too: a constant is copied in one go).
    #[inline]
    pub fn fixed_key(&mut self, written: &'static str, depth: usize) -> io::Result<()> {
        debug_assert!(self.has_value && self.depth == depth);
        debug_assert!(written.starts_with(",\n") && written[2..].starts_with(&INDENT[..depth * 2]));
        self.out.push_str(written);
        Ok(())
    }

    /// Starts the next value in an array.
    #[inline]
    pub fn item(&mut self) -> io::Result<()> {
        self.next_item();
        Ok(())
    }

    #[inline]
    pub fn str(&mut self, s: &str) -> io::Result<()> {
        push_str(&mut self.out, s);
        Ok(())
    }

    #[inline]
    pub fn opt_str(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    #[inline]
    pub fn null(&mut self) -> io::Result<()> {
        self.out.push_str("null");
        Ok(())
    }

    #[inline]
    pub fn bool(&mut self, b: bool) -> io::Result<()> {
        self.out.push_str(if b { "true" } else { "false" });
        Ok(())
    }

    #[inline]
    pub fn uint(&mut self, n: u64) -> io::Result<()> {
        self.out.push_str(itoa::Buffer::new().format(n));
        Ok(())
    }

    /// A float as serde_json writes it (`1800.0`, `0.5`; `null` when not
    /// finite).
    pub fn float(&mut self, f: f64) -> io::Result<()> {
        // Whole numbers below 10^15 (every timeout in seconds) are their
        // digits and `.0` in serde_json's (ryu's) notation; itoa is cheaper.
        if (0.0..1e15).contains(&f) && f.is_sign_positive() && f.fract() == 0.0 {
            self.uint(f as u64)?;
            self.out.push_str(".0");
            return Ok(());
        }
        let written = serde_json::to_string(&f).map_err(io::Error::other)?;
        self.out.push_str(&written);
        Ok(())
    }

    /// A string that `write` appends straight to the output, escaped
    /// after (no copy of it is made first: a task's id is made each time
    /// it is written).
    #[inline]
    pub fn str_from(&mut self, write: impl FnOnce(&mut String)) -> io::Result<()> {
        self.out.push('"');
        let start = self.out.len();
        write(&mut self.out);
        let clean = start + clean_prefix(&self.out.as_bytes()[start..]);
        if clean < self.out.len() {
            let rest = self.out.split_off(clean);
            push_escaped(&mut self.out, &rest);
        }
        self.out.push('"');
        Ok(())
    }

    /// An array of strings that `write` appends for each item, as
    /// [`JsonOut::str_from`] does, handed to the sink in chunks as it goes
    /// (a wave of 100,000 task ids is megabytes).
    pub fn array_from<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut write: impl FnMut(T, &mut String),
    ) -> io::Result<()> {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            // Most arrays of a task are empty.
            self.out.push_str("[]");
            self.has_value = true;
            return Ok(());
        }
        self.begin_array()?;
        for item in items {
            self.item()?;
            self.str_from(|out| write(item, out))?;
            self.flush_some()?;
        }
        self.end_array()
    }

    /// An array of strings given whole ([`JsonOut::array_from`]).
    #[inline]
    pub fn str_array<S: AsRef<str>>(
        &mut self,
        items: impl IntoIterator<Item = S>,
    ) -> io::Result<()> {
        self.array_from(items, |s, out| out.push_str(s.as_ref()))
    }
}

/// What a byte becomes in a JSON string: 0 for itself, else the letter of
/// its short escape, or `u` for `\u00XX` (serde_json's table).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// A mask with the high bit set in the first byte of `x` (lowest address)
/// that needs escaping: below 0x20, `"` or `\`. Bits above the first hit may
/// be set falsely (a borrow runs on); the lowest set bit is always right.
#[inline]
fn escape_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    // Bytes below 0x20 (bytes of 0x80 and up have their high bit, cleared
    // by !x).
    (x.wrapping_sub(ONES * 0x20) & !x
        | zero(x ^ (ONES * b'"' as u64))
        | zero(x ^ (ONES * b'\\' as u64)))
        & HIGH
}

/// How many bytes at the start of `bytes` need no escaping (its length
/// when none does): two words at a time, as most text needs none, and the
/// last few bytes as one word that overlaps what was read already.
#[inline]
fn clean_prefix(bytes: &[u8]) -> usize {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let len = bytes.len();
    let mut at = 0;
    while at + 16 <= len {
        let (a, b) = (escape_mask(word(at)), escape_mask(word(at + 8)));
        if a | b != 0 {
            return if a != 0 {
                at + (a.trailing_zeros() / 8) as usize
            } else {
                at + 8 + (b.trailing_zeros() / 8) as usize
            };
        }
        at += 16;
    }
    if at + 8 <= len {
        let a = escape_mask(word(at));
        if a != 0 {
            return at + (a.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    if at == len {
        return len;
    }
    if len >= 8 {
        // The bytes before `at` in this word are clean, so have no bit set:
        // the lowest one is the first hit among the rest.
        let a = escape_mask(word(len - 8));
        return if a != 0 {
            len - 8 + (a.trailing_zeros() / 8) as usize
        } else {
            len
        };
    }
    (bytes[at..].iter())
        .position(|&b| ESCAPE[b as usize] != 0)
        .map_or(len, |i| at + i)
}

/// `s` as a quoted JSON string: runs that need no escaping are copied whole.
#[inline]
fn push_str(out: &mut String, s: &str) {
    let clean = clean_prefix(s.as_bytes());
    out.reserve(s.len() + 2);
    out.push('"');
    // The bytes that need escaping are ASCII: each run ends on a character.
    out.push_str(&s[..clean]);
    if clean < s.len() {
        push_escaped(out, &s[clean..]);
    }
    out.push('"');
}

/// `rest`, which starts with a byte that needs escaping, escaped (out of
/// line: most strings never come here).
#[inline(never)]
fn push_escaped(out: &mut String, mut rest: &str) {
    while let Some(&b) = rest.as_bytes().first() {
        match ESCAPE[b as usize] {
            0 => unreachable!("`rest` starts where clean_prefix stopped"),
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) as usize]));
                out.push(char::from(HEX[(b & 0xf) as usize]));
            }
            e => {
                out.push('\\');
                out.push(char::from(e));
            }
        }
        // `b` is ASCII: the rest starts on a character.
        let after = &rest[1..];
        let clean = clean_prefix(after.as_bytes());
        out.push_str(&after[..clean]);
        rest = &after[clean..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "plain",
            "a \"quote\" and a \\ backslash",
            "tab\tnew\nline\r\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "é ñ プ 🎉 \u{2028}",
            all.as_str(),
        ] {
            let mut ours = String::new();
            push_str(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).unwrap());
        }
    }

    /// Every byte that needs escaping, at every place in and around the
    /// 8-byte words the scan reads, among ASCII and multi-byte text.
    #[test]
    fn each_special_byte_is_escaped_wherever_it_stands() {
        let specials: Vec<char> = (0u8..0x20)
            .map(char::from)
            .chain(['"', '\\', '\u{7f}', '\u{2028}', '\u{2029}', 'é', 'プ', '🎉'])
            .collect();
        for fill in ["a", "é", "日本", "🎉"] {
            for len in 0..20 {
                for at in 0..=len {
                    for &c in &specials {
                        let mut s: String = fill.repeat(len);
                        let at = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
                        s.insert(at, c);
                        let mut ours = String::new();
                        push_str(&mut ours, &s);
                        assert_eq!(ours, serde_json::to_string(&s).unwrap(), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_string_written_in_place_is_escaped_as_one_given_whole() {
        for s in ["", "plain/id-2", "a\"b", "tab\there", "\\", "é\u{1}プ"] {
            let (mut given, mut in_place) = (JsonOut::nested(0), JsonOut::nested(0));
            given.str_array([s, s]).unwrap();
            in_place
                .array_from([s, s], |s, out| out.push_str(s))
                .unwrap();
            assert_eq!(in_place.into_string(), given.into_string(), "{s:?}");
        }
        let mut none = JsonOut::nested(0);
        none.array_from(Vec::<&str>::new(), |s, out| out.push_str(s))
            .unwrap();
        assert_eq!(none.into_string(), "[]");
    }

    #[test]
    fn the_clean_prefix_is_the_run_before_the_first_special_byte() {
        // Every length up to three words and a half, a special byte at
        // every place (or none), and a second one after it.
        for len in 0..28 {
            for at in 0..=len {
                for special in [0u8, b'\n', 0x1f, b'"', b'\\'] {
                    let mut s = vec![b'a'; len];
                    if at < len {
                        s[at] = special;
                        s[len - 1] = b'"';
                    }
                    let want = s.iter().position(|&b| ESCAPE[b as usize] != 0);
                    assert_eq!(clean_prefix(&s), want.unwrap_or(len), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn the_clean_prefix_ends_at_the_first_byte_to_escape() {
        assert_eq!(clean_prefix(b""), 0);
        assert_eq!(clean_prefix(b"abcdefghijklmnopq"), 17);
        assert_eq!(clean_prefix(b"abcdefgh\"\x01\\"), 8);
        // A byte above a hit may look like one too (a borrow runs on); the
        // first hit is what counts.
        assert_eq!(clean_prefix(b"ab\x00\x01cdefgh"), 2);
        assert_eq!(clean_prefix("\u{a0}\u{9f}\u{80}ÿ\u{2028}".as_bytes()), 11);
        assert_eq!(clean_prefix(b"       \x1f"), 7);
        assert_eq!(clean_prefix(b" !#[]~\x7f\x20\\"), 8);
    }

    fn escaped_as_serde_json(s: &str) -> proptest::test_runner::TestCaseResult {
        let mut ours = String::new();
        push_str(&mut ours, s);
        proptest::prop_assert_eq!(ours, serde_json::to_string(s).unwrap());
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_does(s in "(?s).{0,80}") {
            escaped_as_serde_json(&s)?;
        }

        #[test]
        fn any_mostly_special_string_is_escaped_as_serde_json_does(
            s in "[\\x00-\\x21\"\\\\a\u{2028}é🎉]{0,40}"
        ) {
            escaped_as_serde_json(&s)?;
        }
    }

    #[test]
    fn floats_are_written_as_serde_json_does() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            90.0,
            1800.0,
            0.001,
            1e-7,
            123_456_789_012_345.0,
            999_999_999_999_999.0,
            1e15,
            1e16,
            1e17,
            -3.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
        ];
        values.extend((0..2000).map(|i| f64::from(i) * 0.25));
        values.extend((0..60).map(|i| 2f64.powi(i)));
        values.extend((1..1000).map(|ms| std::time::Duration::from_millis(ms * 37).as_secs_f64()));
        for f in values {
            let mut j = JsonOut::nested(0);
            j.float(f).unwrap();
            assert_eq!(j.into_string(), serde_json::to_string(&f).unwrap(), "{f:?}");
        }
    }

    #[test]
    fn layout_is_serde_jsons_pretty_layout() {
        let want = json!({
            "a": 1,
            "empty": [],
            "obj": {},
            "list": ["x", "y"],
            "nested": [{"k": null, "t": true, "f": 0.5, "g": 1800.0, "deep": [[], ["z"]]}, {}],
            "ignored": [{"line": 3, "text": "q", "reason": "r"}],
            "last": false,
        });
        let mut j = JsonOut::new(Vec::new());
        j.begin_object().unwrap();
        j.key("a").unwrap();
        j.uint(1).unwrap();
        j.key("empty").unwrap();
        j.str_array::<&str>([]).unwrap();
        j.key("obj").unwrap();
        j.begin_object().unwrap();
        j.end_object().unwrap();
        j.key("list").unwrap();
        j.str_array(["x", "y"]).unwrap();
        j.key("nested").unwrap();
        j.begin_array().unwrap();
        j.item().unwrap();
        j.begin_object().unwrap();
        j.key("k").unwrap();
        j.null().unwrap();
        j.key("t").unwrap();
        j.bool(true).unwrap();
        j.key("f").unwrap();
        j.float(0.5).unwrap();
        j.key("g").unwrap();
        j.float(1800.0).unwrap();
        j.key("deep").unwrap();
        j.begin_array().unwrap();
        j.item().unwrap();
        j.str_array::<&str>([]).unwrap();
        j.item().unwrap();
        j.str_array(["z"]).unwrap();
        j.end_array().unwrap();
        j.end_object().unwrap();
        j.item().unwrap();
        j.begin_object().unwrap();
        j.end_object().unwrap();
        j.end_array().unwrap();
        j.key("ignored").unwrap();
        let mut inner = JsonOut::nested(j.depth());
        inner.begin_array().unwrap();
        inner.item().unwrap();
        inner.begin_object().unwrap();
        for (k, v) in [("line", None), ("reason", Some("r")), ("text", Some("q"))] {
            inner.key(k).unwrap();
            match v {
                Some(v) => inner.str(v).unwrap(),
                None => inner.uint(3).unwrap(),
            }
        }
        inner.end_object().unwrap();
        inner.end_array().unwrap();
        j.raw(&inner.into_string()).unwrap();
        j.key("last").unwrap();
        j.bool(false).unwrap();
        j.end_object().unwrap();
        let ours = String::from_utf8(j.into_inner().unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ours).unwrap(),
            want
        );
        // Byte for byte: the same keys written by serde_json in our order.
        #[derive(serde::Serialize)]
        struct Inner {
            k: Option<u8>,
            t: bool,
            f: f64,
            g: f64,
            deep: Vec<Vec<&'static str>>,
        }
        #[derive(serde::Serialize)]
        struct Empty {}
        #[derive(serde::Serialize)]
        #[serde(untagged)]
        enum Item {
            Inner(Inner),
            Empty(Empty),
        }
        #[derive(serde::Serialize)]
        struct Outer {
            a: u32,
            empty: Vec<&'static str>,
            obj: Empty,
            list: Vec<&'static str>,
            nested: Vec<Item>,
            ignored: serde_json::Value,
            last: bool,
        }
        let outer = Outer {
            a: 1,
            empty: vec![],
            obj: Empty {},
            list: vec!["x", "y"],
            nested: vec![
                Item::Inner(Inner {
                    k: None,
                    t: true,
                    f: 0.5,
                    g: 1800.0,
                    deep: vec![vec![], vec!["z"]],
                }),
                Item::Empty(Empty {}),
            ],
            ignored: json!([{"line": 3, "text": "q", "reason": "r"}]),
            last: false,
        };
        assert_eq!(ours, serde_json::to_string_pretty(&outer).unwrap());
    }
}
