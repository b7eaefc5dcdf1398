//! A streaming JSON writer with serde_json's pretty layout (two-space
//! indent, `"key": value`, `[]` and `{}` when empty), byte for byte. Takes
//! values one at a time, hands bytes to a writer; never builds a tree or
//! copies a string it is given.

use std::io::{self, Write};

pub struct JsonOut<W: Write> {
    /// Bytes not yet handed to `sink`: small writes go into a vector, which
    /// is much cheaper per call than any `Write`.
    out: Vec<u8>,
    sink: W,
    depth: usize,
    /// Whether the innermost open array or object has a value yet.
    has_value: bool,
}

const CHUNK: usize = 1 << 16;

const INDENT: &[u8] = b"                                                                ";

impl<W: Write> JsonOut<W> {
    pub fn new(sink: W) -> JsonOut<W> {
        JsonOut::nested(sink, 0)
    }

    /// A writer for a value that will stand at `depth` inside another
    /// writer's output (written once, copied in with [`JsonOut::raw`]).
    pub fn nested(sink: W, depth: usize) -> JsonOut<W> {
        JsonOut {
            out: Vec::with_capacity(CHUNK + 4096),
            sink,
            depth,
            has_value: false,
        }
    }

    /// Hands what is written so far to the sink once there is a chunk of
    /// it; call between values.
    pub fn flush_some(&mut self) -> io::Result<()> {
        if self.out.len() >= CHUNK {
            self.sink.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// A value written by a `nested` writer of this depth.
    pub fn raw(&mut self, value: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(value);
        Ok(())
    }

    /// Everything written, handed to the sink; the sink back.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.sink.write_all(&self.out)?;
        Ok(self.sink)
    }

    fn indent(&mut self) {
        let mut n = self.depth * 2;
        if let Some(spaces) = INDENT.get(..n) {
            self.out.extend_from_slice(spaces);
            return;
        }
        while n > 0 {
            let k = n.min(INDENT.len());
            self.out.extend_from_slice(&INDENT[..k]);
            n -= k;
        }
    }

    /// Before a value in an array, or a key in an object.
    fn next_item(&mut self) {
        if self.has_value {
            self.out.push(b',');
        }
        self.out.push(b'\n');
        self.has_value = true;
        self.indent();
    }

    pub fn begin_object(&mut self) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        self.out.push(b'{');
        Ok(())
    }

    pub fn end_object(&mut self) -> io::Result<()> {
        self.end(b"}")
    }

    pub fn begin_array(&mut self) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        self.out.push(b'[');
        Ok(())
    }

    pub fn end_array(&mut self) -> io::Result<()> {
        self.end(b"]")
    }

    fn end(&mut self, close: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.out.push(b'\n');
            self.indent();
        }
        // The enclosing array or object has a value now: this one.
        self.has_value = true;
        self.out.extend_from_slice(close);
        Ok(())
    }

    /// `"key": ` in an object; the value follows. Keys are this program's
    /// own names, which need no escaping.
    pub fn key(&mut self, key: &'static str) -> io::Result<()> {
        debug_assert!(key.bytes().all(|b| ESCAPE[b as usize] == 0));
        self.next_item();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\": ");
        Ok(())
    }

    /// A key that is not the first of an object at `depth`, written
    /// beforehand with its comma, line break, indent and `": `.
    pub fn fixed_key(&mut self, written: &'static [u8], depth: usize) -> io::Result<()> {
        debug_assert!(self.has_value && self.depth == depth);
        debug_assert!(
            written.starts_with(b",\n") && written[2..].starts_with(&INDENT[..depth * 2])
        );
        self.out.extend_from_slice(written);
        Ok(())
    }

    /// Starts the next value in an array.
    pub fn item(&mut self) -> io::Result<()> {
        self.next_item();
        Ok(())
    }

    pub fn str(&mut self, s: &str) -> io::Result<()> {
        push_str(&mut self.out, s);
        Ok(())
    }

    pub fn opt_str(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    pub fn bool(&mut self, b: bool) -> io::Result<()> {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
        Ok(())
    }

    pub fn uint(&mut self, n: u64) -> io::Result<()> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        Ok(())
    }

    /// A float as serde_json writes it (`1800.0`, `0.5`; `null` when not finite).
    pub fn float(&mut self, f: f64) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &f).map_err(io::Error::other)
    }

    /// An array of strings.
    pub fn str_array<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        self.begin_array()?;
        for s in items {
            self.item()?;
            self.str(s)?;
        }
        self.end_array()
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

/// `s` as a quoted JSON string, written in runs between the bytes that
/// need escaping.
#[cfg(test)]
fn write_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    let mut buf = Vec::with_capacity(s.len() + 2);
    push_str(&mut buf, s);
    out.write_all(&buf)
}

/// Whether any of the 8 bytes in `x` needs escaping: below 0x20, `"` or
/// `\` (checked a word at a time; most text needs none).
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // Bytes below 0x20 (bytes of 0x80 and up have their high bit, cleared by !x).
    x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
        || has_zero(x ^ (ONES * b'"' as u64))
        || has_zero(x ^ (ONES * b'\\' as u64))
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let word = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
            if !word_needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let e = ESCAPE[b as usize];
        if e != 0 {
            out.extend_from_slice(&bytes[start..i]);
            if e == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            } else {
                out.extend_from_slice(&[b'\\', e]);
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
            let mut ours = Vec::new();
            write_str(&mut ours, s).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(s).unwrap()
            );
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
        j.str_array([]).unwrap();
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
        j.str_array([]).unwrap();
        j.item().unwrap();
        j.str_array(["z"]).unwrap();
        j.end_array().unwrap();
        j.end_object().unwrap();
        j.item().unwrap();
        j.begin_object().unwrap();
        j.end_object().unwrap();
        j.end_array().unwrap();
        j.key("ignored").unwrap();
        let mut inner = JsonOut::nested(Vec::new(), j.depth());
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
        j.raw(&inner.into_inner().unwrap()).unwrap();
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
