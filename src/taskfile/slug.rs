//! Slugs, and the ids made of them: a text's slug, and an id made of an
//! item's slug, the headings chosen to go in front and its twin number.
//! Takes texts and how an id is made; hands on the id's text. Never decides
//! which headings or number an id gets (`identity` does), and keeps no id.

use crate::taskfile::Section;

/// The longest slug id, in bytes: a plan line keeps room for the text.
pub const ID_MAX: usize = 48;
/// Room for an id while it is made: the headings in front and the whole own
/// slug, before it is cut to [`ID_MAX`]. (A string of only `ID_MAX` grows
/// for a qualified id, and a million regrown strings cost the allocator a
/// few percent of naming them.)
pub const ID_ROOM: usize = 2 * ID_MAX;
/// The longest heading slug put in front of a task's or section's own slug.
pub(super) const QUALIFIER_MAX: usize = 20;
/// Headings in front take at most this much, so the text's own words keep
/// at least 16 bytes.
pub(super) const PREFIX_MAX: usize = ID_MAX - 16 - 1;

/// The sections whose headings may go in front of an id made under a
/// section, nearest first: the section and those it is under, never the
/// file's title nor the file. Headings nest at most six deep, so a level
/// is a bit of a `u8` (`chosen`), and seven are room enough (the top bit
/// is `Forms`').
#[derive(Clone, Copy, Debug)]
pub(super) struct Chain {
    at: [u32; 7],
    len: u8,
}

impl Chain {
    /// The chain of section `s` (0, the file: none).
    pub(super) fn of(sections: &[Section], title: Option<usize>, s: usize) -> Chain {
        let mut chain = Chain { at: [0; 7], len: 0 };
        let mut s = s;
        while s != 0 && (chain.len as usize) < chain.at.len() {
            if Some(s) != title {
                chain.at[chain.len as usize] = s as u32;
                chain.len += 1;
            }
            s = sections[s].parent.unwrap_or(0);
        }
        chain
    }

    /// The section at `level` (0: the nearest).
    pub(super) fn get(&self, level: usize) -> Option<usize> {
        (level < self.len as usize).then(|| self.at[level] as usize)
    }

    pub(super) fn len(&self) -> usize {
        self.len as usize
    }
}

/// Each section's qualifier, the text put in front of an id to tell it
/// apart: its `id` hint, else its title's slug cut to [`QUALIFIER_MAX`].
/// One string, a range per section.
#[derive(Debug, Default)]
pub(super) struct Qualifiers {
    text: String,
    at: Vec<(u32, u32)>,
}

impl Qualifiers {
    pub(super) fn new(sections: &[Section]) -> Qualifiers {
        let mut q = Qualifiers::default();
        q.at.reserve_exact(sections.len());
        for s in sections {
            let start = q.text.len() as u32;
            match &s.hints.id {
                Some(id) => q.text.push_str(&id.value),
                None => {
                    slug_into(&s.title, "section", QUALIFIER_MAX, &mut q.text);
                }
            }
            q.at.push((start, q.text.len() as u32));
        }
        q.text.shrink_to_fit();
        q
    }

    pub(super) fn get(&self, s: usize) -> &str {
        let (start, end) = self.at[s];
        &self.text[start as usize..end as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.at.len()
    }
}

/// How an item's id is made from its own slug: the chain levels whose
/// headings go in front (a bit each), and its twin number (0: none; else
/// 2, 3, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Form {
    pub(super) chosen: u8,
    pub(super) twin: u32,
}

/// Each item's [`Form`], by task (or section) index: a byte each, and
/// the few twin numbers aside (a number per item was 4 MB of a million
/// tasks' plan, for 2% of them).
#[derive(Debug, Default)]
pub(super) struct Forms {
    /// The chosen levels, with [`TWIN`] set when the item is a twin.
    chosen: Vec<u8>,
    twins: rustc_hash::FxHashMap<u32, u32>,
}

/// A [`Chain`] holds at most 7 levels, so a chosen byte's top bit is free
/// to say "a twin".
const TWIN: u8 = 1 << 7;

impl Forms {
    /// `n` items, each its own slug as it is.
    pub(super) fn new(n: usize) -> Forms {
        Forms {
            chosen: vec![0; n],
            twins: Default::default(),
        }
    }

    pub(super) fn get(&self, i: usize) -> Form {
        let chosen = self.chosen[i];
        Form {
            chosen: chosen & !TWIN,
            twin: if chosen & TWIN == 0 {
                0
            } else {
                self.twins[&(i as u32)]
            },
        }
    }

    pub(super) fn set(&mut self, i: usize, form: Form) {
        if form.twin == 0 {
            // Most items are no twins: no look in the map for them.
            if self.chosen[i] & TWIN != 0 {
                self.twins.remove(&(i as u32));
            }
            self.chosen[i] = form.chosen;
        } else {
            self.chosen[i] = form.chosen | TWIN;
            self.twins.insert(i as u32, form.twin);
        }
    }
}

/// The levels in a set of chosen ones, nearest first.
pub(super) fn levels(chosen: u8) -> impl Iterator<Item = usize> {
    let mut rest = chosen;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let l = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            l
        })
    })
}

/// Appends to `out` the id made of `text`'s slug (`empty` when it has
/// none) as `form` says: the chosen headings of `chain` in front,
/// outermost first, the slug cut to fit, then the twin number. At most
/// [`ID_MAX`] bytes when the headings chosen fit in [`PREFIX_MAX`].
pub(super) fn write_id(
    text: &str,
    empty: &str,
    chain: &Chain,
    form: Form,
    q: &Qualifiers,
    out: &mut String,
) {
    let start = out.len();
    // The chosen headings, outermost first, then the own slug cut to fit.
    let mut rest = form.chosen;
    while rest != 0 {
        let l = 7 - rest.leading_zeros() as usize;
        rest &= !(1 << l);
        if let Some(s) = chain.get(l) {
            out.push_str(q.get(s));
            out.push('/');
        }
    }
    let own = out.len();
    slug_into(text, empty, ID_MAX, out);
    if form.chosen != 0 {
        let room = ID_MAX.saturating_sub(own - start);
        let kept = cut_words(&out[own..], room).len();
        out.truncate(own + kept);
    }
    if form.twin != 0 {
        twin_id(start, form.twin, out);
    }
}

/// Turns the id at `out[start..]` into twin `n`'s: cut so the number fits
/// in [`ID_MAX`], then `-n`.
pub(super) fn twin_id(start: usize, n: u32, out: &mut String) {
    let mut number = itoa::Buffer::new();
    let suffix = number.format(n);
    let kept = cut(&out[start..], ID_MAX.saturating_sub(suffix.len() + 1))
        .trim_end_matches('-')
        .len();
    out.truncate(start + kept);
    out.push('-');
    out.push_str(suffix);
}

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

/// A byte in each of a word's eight lanes.
const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// The top bit of each lane.
const HIGH: u64 = ONES << 7;

/// Eight ASCII bytes (in a word's lanes, first byte lowest) lowercased,
/// and which are letters or digits (`HIGH`'s bit set in their lanes). No
/// lane carries into the next: every byte is below 0x80.
fn classify(x: u64) -> (u64, u64) {
    // Bit 5 set: `A`-`Z` become `a`-`z`; digits already have it.
    let lower = x | (0x20 * ONES);
    let at_least = |v: u64, low: u8| v + (0x80 - low as u64) * ONES;
    let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    (lower, (letter | digit) & HIGH)
}

/// [`slug_into`] for ASCII text, eight bytes at a time (the same slug: a
/// word that does not fit ends it, a first word is cut). A slug id is made
/// again each time it is read, a few times per task: a byte at a time, it
/// was a tenth of planning a large file.
fn slug_ascii_into(text: &str, max: usize, out: &mut String) {
    // Room for a whole word of lanes written at the slug's end.
    let mut buf = [0u8; 128 + 8];
    if max >= 128 {
        return slug_chars_into(text, max, out);
    }
    let (mut n, mut word_start, mut in_word) = (0, 0, false);
    let chunks = text.as_bytes().chunks_exact(8);
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    let words = (chunks.map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())))
        .chain(std::iter::once(u64::from_le_bytes(last)));
    'text: for x in words {
        let (lower, alnum) = classify(x);
        let mut at = 0;
        while at < 8 {
            let rest = alnum >> (at * 8);
            if rest == 0 {
                in_word = false;
                break;
            }
            let skip = rest.trailing_zeros() as usize / 8;
            if skip != 0 {
                in_word = false;
                at += skip;
            }
            // The run of letters and digits from `at`, to the lanes' end at
            // most (lanes past it read as separators).
            let run = (!(alnum >> (at * 8)) & HIGH).trailing_zeros() as usize / 8;
            if !in_word {
                in_word = true;
                if n != 0 {
                    if n + 1 >= max {
                        break 'text;
                    }
                    buf[n] = b'-';
                    n += 1;
                }
                word_start = n;
            }
            buf[n..n + 8].copy_from_slice(&(lower >> (at * 8)).to_le_bytes());
            if n + run > max {
                // Drop the part word and its dash: whole words read better
                // than a stump (a first word is cut all the same).
                n = if word_start != 0 { word_start - 1 } else { max };
                break 'text;
            }
            n += run;
            at += run;
        }
    }
    // SAFETY: every byte kept above is a letter or digit `classify` found
    // (lowercased: still ASCII) or a `-`: ASCII, so UTF-8. Checking it
    // again cost a tenth of making a slug.
    out.push_str(unsafe { std::str::from_utf8_unchecked(&buf[..n]) });
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
    fn forms_keep_twins_aside_and_give_them_back() {
        let mut forms = Forms::new(3);
        let deep = Form {
            chosen: 0b100_0001,
            twin: 0,
        };
        forms.set(0, deep);
        forms.set(
            1,
            Form {
                twin: 70_000,
                ..deep
            },
        );
        assert_eq!(forms.get(0), deep);
        assert_eq!(
            forms.get(1),
            Form {
                twin: 70_000,
                ..deep
            }
        );
        assert_eq!(forms.get(2), Form::default());
        // A twin number tried and then not needed leaves nothing behind.
        forms.set(1, deep);
        assert_eq!(forms.get(1), deep);
        assert!(forms.twins.is_empty());
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

    #[test]
    fn ascii_slugs_of_any_bytes_match_a_char_at_a_time() {
        // Every ASCII byte (the lanes' edges: `@` `[` `` ` `` `{` `/` `:`),
        // words across the eight-byte lanes, at every length to 80.
        let mut seed = 11u64;
        for len in 0..80 {
            for _ in 0..400 {
                let text: String = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        // Mostly letters, so words run long.
                        match (seed >> 60) % 4 {
                            0 => ((seed >> 33) % 128) as u8 as char,
                            _ => (b'a' + ((seed >> 33) % 26) as u8) as char,
                        }
                    })
                    .collect();
                for max in [0, 1, 7, 8, 9, 16, 47, 48, 127] {
                    let (mut fast, mut slow) = (String::new(), String::new());
                    slug_ascii_into(&text, max, &mut fast);
                    slug_chars_into(&text, max, &mut slow);
                    assert_eq!(fast, slow, "{text:?} within {max}");
                }
            }
        }
    }
}
