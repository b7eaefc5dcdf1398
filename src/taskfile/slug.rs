//! Slugs: a text as lowercase words joined by `-`, cut to whole words.
//! Takes text; hands on slugs (appended to a string, or their own), and
//! cuts of them at a char or a word. Never decides what an id is
//! (`identity` does).

/// The longest slug id, in bytes: a plan line keeps room for the text.
pub const ID_MAX: usize = 48;

/// The longest start of `s` within `max` bytes, on a char boundary.
pub(super) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest start of slug `s` within `max` bytes that ends at a word
/// (a word is cut only when it is the first).
pub(super) fn cut_words(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let head = cut(s, max);
    if s.as_bytes()[head.len()] == b'-' {
        return head;
    }
    match head.rfind('-') {
        Some(dash) => &head[..dash],
        None => head,
    }
}

/// Lowercase words joined by `-`, letters and digits of any script kept,
/// whole words up to `max` bytes (a first word longer than that is cut).
/// `empty` when the text has no letters or digits.
pub fn slug_within(text: &str, empty: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    slug_into(text, empty, max, &mut out);
    out
}

/// [`slug_within`], appended to `out`; hands on where it lies there.
pub(super) fn slug_into(text: &str, empty: &str, max: usize, out: &mut String) -> (u32, u32) {
    let start = out.len();
    if text.is_ascii() {
        slug_ascii_into(text, max, out);
    } else {
        slug_chars_into(text, max, out);
    }
    if out.len() == start {
        out.push_str(empty);
    }
    (start as u32, out.len() as u32)
}

/// The slug a char at a time, for any script.
fn slug_chars_into(text: &str, max: usize, out: &mut String) {
    let start = out.len();
    let mut dash = false;
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // ASCII byte by byte; any other char decoded whole.
        let (c, width) = match bytes[at] {
            b if b.is_ascii() => (b as char, 1),
            _ => {
                let c = text[at..].chars().next().unwrap_or_default();
                (c, c.len_utf8())
            }
        };
        at += width;
        if !c.is_alphanumeric() {
            dash = true;
            continue;
        }
        let len = out.len() - start;
        if dash && len != 0 {
            if len + 1 >= max {
                break;
            }
            out.push('-');
        }
        dash = false;
        let before = out.len();
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        if out.len() - start > max {
            out.truncate(before);
            // Drop the part word: whole words read better than a stump.
            if let Some(d) = out[start..].rfind('-') {
                out.truncate(start + d);
            }
            break;
        }
    }
}

/// Each ASCII byte's lowercase form when it is a letter or digit, else 0.
static SLUG_BYTE: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// [`slug_into`] for ASCII text, a byte at a time through a table (the
/// same slug: a word that does not fit ends it, a first word is cut).
fn slug_ascii_into(text: &str, max: usize, out: &mut String) {
    let mut buf = [0u8; 128];
    if max >= buf.len() {
        return slug_chars_into(text, max, out);
    }
    let (mut n, mut word_start, mut in_word) = (0, 0, false);
    for &b in text.as_bytes() {
        let c = SLUG_BYTE[(b & 0x7f) as usize];
        if c == 0 {
            in_word = false;
            continue;
        }
        if !in_word {
            in_word = true;
            if n != 0 {
                if n + 1 >= max {
                    break;
                }
                buf[n] = b'-';
                n += 1;
            }
            word_start = n;
        }
        if n == max {
            // Drop the part word and its dash: whole words read better
            // than a stump (a first word is cut all the same).
            if word_start != 0 {
                n = word_start - 1;
            }
            break;
        }
        buf[n] = c;
        n += 1;
    }
    // Letters, digits and dashes: ASCII.
    out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
}

/// The slug of `text` as a whole id may have it.
pub fn slug(text: &str, empty: &str) -> String {
    slug_within(text, empty, ID_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Add **bold** `code` & more!", "t"),
            "add-bold-code-more"
        );
        assert_eq!(
            slug("Next.js 15プロジェクト", "t"),
            "next-js-15プロジェクト"
        );
        assert_eq!(slug("!!!", "task"), "task");
        let long = slug(&"word ".repeat(40), "t");
        assert!(long.len() <= ID_MAX && long.ends_with("word"), "{long}");
        assert_eq!(slug(&"x".repeat(60), "t").len(), ID_MAX);
        assert!(slug(&"é".repeat(60), "t").len() <= ID_MAX);
    }

    #[test]
    fn ascii_slugs_a_word_at_a_time_match_a_char_at_a_time() {
        let words = [
            "a",
            "Build",
            "x2",
            "",
            "--",
            "Éa",
            "the",
            "verylongwordthatgoesonandon",
        ];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let word = words[(seed >> 33) as usize % words.len()].replace('É', "");
                text.push_str(&word);
                text.push_str([" ", "-", ", ", "`", ""][(seed >> 40) as usize % 5]);
            }
            for max in [0, 1, 2, 5, 16, 20, 48] {
                let (mut fast, mut slow) = (String::new(), String::new());
                slug_ascii_into(&text, max, &mut fast);
                slug_chars_into(&text, max, &mut slow);
                assert_eq!(fast, slow, "{text:?} within {max}");
            }
        }
    }
}
