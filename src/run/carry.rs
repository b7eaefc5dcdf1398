//! Which task is which after a person edits the file during a run.
//!
//! Takes what the run knows of its tasks (id, text, place in the file it last
//! planned, or no place for a task that has left the file) and the newly read
//! document; hands on, for each new task, the known task it is. Rewording a
//! line, moving it, re-indenting it, or renaming its heading keeps a task
//! attached to its running attempt and its state, whatever its id came from.
//! Never guesses between look-alikes: a task it cannot place is new. Pure.

use std::collections::HashMap;

use crate::taskfile::{Document, IdSource};

/// How alike two texts must be (Sørensen–Dice over letter pairs) to be
/// taken for one task reworded when lines were also added or removed.
const SIMILAR: f64 = 0.5;
/// Pairs of texts compared in one gap at most (a rewrite of a whole file
/// must not cost the square of its size).
const MAX_COMPARED: usize = 4096;

/// A task the run knows.
pub struct Known<'a> {
    pub id: &'a str,
    pub text: &'a str,
    /// Its index in the document the run last planned; None if it was not
    /// in that document (it left the file in an earlier edit).
    pub place: Option<usize>,
}

/// For each task of `new`, the index into `known` of the task it is.
pub fn carry(known: &[Known], new: &Document) -> Vec<Option<usize>> {
    let mut of_new: Vec<Option<usize>> = vec![None; new.tasks.len()];
    let mut taken = vec![false; known.len()];
    let pair = |n: usize, k: usize, of_new: &mut Vec<Option<usize>>, taken: &mut Vec<bool>| {
        of_new[n] = Some(k);
        taken[k] = true;
    };

    // 1. An id the author wrote (a hint, the dialect's number) names the
    //    same task wherever it goes.
    let by_id: HashMap<&str, usize> = (known.iter().enumerate()).map(|(k, t)| (t.id, k)).collect();
    for (n, task) in new.tasks.iter().enumerate() {
        if task.id_source == IdSource::Slug {
            continue;
        }
        if let Some(&k) = by_id.get(&*new.id(n))
            && !taken[k]
        {
            pair(n, k, &mut of_new, &mut taken);
        }
    }

    // 2. The same text: moved, re-indented, or under a renamed heading.
    //    Look-alikes pair in order only when both sides have as many.
    let mut known_by_text: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, t) in known.iter().enumerate() {
        if !taken[k] {
            known_by_text.entry(t.text).or_default().push(k);
        }
    }
    let mut new_by_text: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, carried) in of_new.iter().enumerate() {
        if carried.is_none() {
            new_by_text.entry(new.text(n)).or_default().push(n);
        }
    }
    for (text, ns) in &new_by_text {
        let Some(ks) = known_by_text.get_mut(text) else {
            continue;
        };
        if ks.len() != ns.len() {
            continue;
        }
        // In file order; tasks that left the file come last.
        ks.sort_by_key(|&k| (known[k].place.is_none(), known[k].place, k));
        for (&n, &k) in ns.iter().zip(ks.iter()) {
            pair(n, k, &mut of_new, &mut taken);
        }
    }

    // 3. Reworded in place: between two tasks placed above, as many
    //    unplaced tasks on both sides pair in order.
    let mut old_order: Vec<(usize, usize)> = (known.iter().enumerate())
        .filter_map(|(k, t)| t.place.map(|p| (p, k)))
        .collect();
    old_order.sort_unstable();
    let new_of_known: HashMap<usize, usize> = (of_new.iter().enumerate())
        .filter_map(|(n, k)| k.map(|k| (k, n)))
        .collect();
    let mut gap_old: Vec<usize> = Vec::new();
    // The new index of the anchor above the current gap.
    let mut anchor: Option<usize> = None;
    let close_gap = |gap_old: &mut Vec<usize>,
                     from: Option<usize>,
                     to: usize,
                     of_new: &mut Vec<Option<usize>>,
                     taken: &mut Vec<bool>| {
        let start = from.map_or(0, |a| a + 1);
        if !gap_old.is_empty() && start <= to {
            let gap_new: Vec<usize> = (start..to).filter(|&n| of_new[n].is_none()).collect();
            if gap_new.len() == gap_old.len() {
                for (&n, &k) in gap_new.iter().zip(gap_old.iter()) {
                    pair(n, k, of_new, taken);
                }
            } else if gap_new.len() * gap_old.len() <= MAX_COMPARED {
                // Lines were added or removed as well: pair only texts that
                // are clearly one sentence reworded, each the other's one
                // best match (look-alikes are never guessed between).
                let sim = |n: usize, k: usize| strsim::sorensen_dice(new.text(n), known[k].text);
                let best_of = |scores: Vec<(usize, f64)>| {
                    let top = scores.iter().map(|s| s.1).fold(f64::MIN, f64::max);
                    let mut at = scores.iter().filter(|s| s.1 == top && top >= SIMILAR);
                    match (at.next(), at.next()) {
                        (Some(&(i, _)), None) => Some(i),
                        _ => None,
                    }
                };
                for &n in &gap_new {
                    let Some(k) = best_of(gap_old.iter().map(|&k| (k, sim(n, k))).collect()) else {
                        continue;
                    };
                    if best_of(gap_new.iter().map(|&m| (m, sim(m, k))).collect()) == Some(n)
                        && !taken[k]
                    {
                        pair(n, k, of_new, taken);
                    }
                }
            }
        }
        gap_old.clear();
    };
    for &(_, k) in &old_order {
        match new_of_known.get(&k) {
            // Anchors must keep their order to bound a gap.
            Some(&n) if anchor.is_none_or(|a| n > a) => {
                close_gap(&mut gap_old, anchor, n, &mut of_new, &mut taken);
                anchor = Some(n);
            }
            Some(_) => gap_old.clear(),
            None if !taken[k] => gap_old.push(k),
            None => {}
        }
    }
    close_gap(
        &mut gap_old,
        anchor,
        new.tasks.len(),
        &mut of_new,
        &mut taken,
    );
    of_new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::{ReadOptions, Source};

    fn doc(text: &str) -> Document {
        Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        )
    }

    /// Carries `before`'s tasks into `after`; for each task of `after`, the
    /// text of the task it was (or "new").
    fn carried(before: &str, after: &str) -> Vec<String> {
        let old = doc(before);
        let ids: Vec<_> = old.task_ids().collect();
        let known: Vec<Known> = (ids.iter().enumerate())
            .map(|(i, id)| Known {
                id,
                text: old.text(i),
                place: Some(i),
            })
            .collect();
        let new = doc(after);
        carry(&known, &new)
            .into_iter()
            .map(|k| k.map_or("new".to_owned(), |k| known[k].text.to_owned()))
            .collect()
    }

    #[test]
    fn unchanged_tasks_stay_themselves() {
        let t = "# A\n- [ ] one\n- [ ] two\n";
        assert_eq!(carried(t, t), ["one", "two"]);
    }

    #[test]
    fn a_reworded_task_between_others_is_still_itself() {
        assert_eq!(
            carried(
                "- [ ] one\n- [ ] two\n- [ ] three\n",
                "- [ ] one\n- [ ] two, said better\n- [ ] three\n"
            ),
            ["one", "two", "three"]
        );
        // Several in a row, and at the ends.
        assert_eq!(
            carried("- [ ] a\n- [ ] b\n- [ ] c\n", "- [ ] A\n- [ ] b\n- [ ] C\n"),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn moved_reindented_and_renamed_headings_keep_tasks() {
        assert_eq!(
            carried(
                "# A\n- [ ] one\n- [ ] two\n# B\n- [ ] three\n",
                "# B renamed\n- [ ] three\n- [ ] one\n# A\n- [ ] parent\n  - [ ] two\n"
            ),
            ["three", "one", "new", "two"]
        );
    }

    #[test]
    fn a_look_alike_added_elsewhere_renames_a_task_but_keeps_it() {
        // A second `write tests` gives the first its heading in front
        // (`a/write-tests`): the task is still the one that runs.
        let before = "# A\n- [ ] write tests\n# B\n- [ ] other\n";
        let after = "# A\n- [ ] write tests\n# B\n- [ ] other\n- [ ] write tests\n";
        assert_eq!(doc(before).id(0), "write-tests");
        assert_eq!(doc(after).id(0), "a/write-tests");
        assert_eq!(carried(before, after), ["write tests", "other", "new"]);
    }

    #[test]
    fn ids_from_hints_win_over_text() {
        assert_eq!(
            carried(
                "- [ ] build it <!-- id: b -->\n- [ ] test it\n",
                "- [ ] test it\n- [ ] build it all <!-- id: b -->\n"
            ),
            ["test it", "build it"]
        );
    }

    #[test]
    fn look_alikes_are_not_guessed() {
        // A third "fix" appears: which of the two above `mid` is new cannot
        // be known, so neither is placed; the one below `mid` still is.
        assert_eq!(
            carried(
                "- [ ] fix\n- [ ] mid\n- [ ] fix\n",
                "- [ ] fix\n- [ ] fix\n- [ ] mid\n- [ ] fix\n"
            ),
            ["new", "new", "mid", "fix"]
        );
    }

    #[test]
    fn a_rewording_beside_a_deletion_pairs_the_alike_text() {
        assert_eq!(
            carried(
                "- [ ] write the parser\n- [ ] delete me\n- [ ] three\n",
                "- [ ] write the new parser\n- [ ] three\n"
            ),
            ["write the parser", "three"]
        );
    }

    #[test]
    fn an_inserted_and_a_deleted_task() {
        assert_eq!(
            carried(
                "- [ ] a\n- [ ] b\n- [ ] c\n",
                "- [ ] a\n- [ ] new one\n- [ ] extra\n- [ ] c\n"
            ),
            ["a", "new", "new", "c"]
        );
        assert_eq!(carried("- [ ] a\n- [ ] b\n", "- [ ] a\n"), ["a"]);
    }

    #[test]
    fn a_task_that_left_and_came_back_is_found_by_text() {
        let old = doc("- [ ] a\n");
        let known = [
            Known {
                id: &old.id(0),
                text: "a",
                place: Some(0),
            },
            Known {
                id: "gone",
                text: "b",
                place: None,
            },
        ];
        let new = doc("- [ ] a\n- [ ] b\n");
        assert_eq!(carry(&known, &new), [Some(0), Some(1)]);
    }
}
