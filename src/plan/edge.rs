//! Where a dependency edge came from: an `after` hint, the dialect's
//! "depends on", an in-order group or a track. Shown by `plan`; the
//! scheduler treats every edge alike.

/// One or more places an edge came from (the same edge may be written and
/// derived too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgeFrom(u8);

impl EdgeFrom {
    /// An `after` hint on the task.
    pub const HINT: EdgeFrom = EdgeFrom(1);
    /// The dialect's prose ("depends on T002", `_Depends: 1.2_`).
    pub const DIALECT: EdgeFrom = EdgeFrom(2);
    /// An in-order group: `parallel: false`, spec-kit and Kiro order.
    pub const IN_ORDER: EdgeFrom = EdgeFrom(4);
    /// The same track's module in the wave before (`pipeline: tracks`).
    pub const TRACK: EdgeFrom = EdgeFrom(8);

    const NAMES: [(EdgeFrom, &'static str); 4] = [
        (EdgeFrom::HINT, "hint"),
        (EdgeFrom::DIALECT, "dialect"),
        (EdgeFrom::IN_ORDER, "in-order"),
        (EdgeFrom::TRACK, "track"),
    ];

    pub fn union(self, other: EdgeFrom) -> EdgeFrom {
        EdgeFrom(self.0 | other.0)
    }

    pub fn has(self, other: EdgeFrom) -> bool {
        self.0 & other.0 == other.0
    }

    /// `hint`, `dialect`, `in-order`, `track`: each place, in that order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |&(f, _)| self.has(f))
            .map(|(_, n)| n)
    }

    /// Only derived (an in-order group or a track), not written as a
    /// dependency.
    pub fn derived_only(self) -> bool {
        !self.has(EdgeFrom::HINT) && !self.has(EdgeFrom::DIALECT)
    }
}

/// Sorts a task's edges by target and merges duplicates, keeping every
/// place each came from.
pub fn sort_edges<T: Ord + Copy>(after: &mut Vec<T>, from: &mut Vec<EdgeFrom>) {
    let mut pairs: Vec<(T, EdgeFrom)> = after.iter().copied().zip(from.iter().copied()).collect();
    pairs.sort_by_key(|&(t, _)| t);
    after.clear();
    from.clear();
    for (t, f) in pairs {
        if after.last() == Some(&t) {
            let last = from.last_mut().expect("as long as `after`");
            *last = last.union(f);
        } else {
            after.push(t);
            from.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_their_places() {
        let mut after = vec![3, 1, 3];
        let mut from = vec![EdgeFrom::TRACK, EdgeFrom::IN_ORDER, EdgeFrom::HINT];
        sort_edges(&mut after, &mut from);
        assert_eq!(after, [1, 3]);
        assert_eq!(from[1].names().collect::<Vec<_>>(), ["hint", "track"]);
        assert!(from[0].derived_only());
    }
}
