//! A dependency edge: what a task waits for and where that came from (an
//! `after` hint, the dialect's "depends on", an in-order group or a
//! track). Where is shown by `plan`; the scheduler treats every edge alike.

use thin_vec::ThinVec;

use super::Target;

/// One thing a task waits for directly, and every place that says so: 8
/// bytes (a `Target` alone takes 16), as there may be one or more per task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// `Target::code`: in `Target`'s order (every task before every
    /// section), so edges sort by it.
    target: u32,
    pub from: EdgeFrom,
}

impl Edge {
    pub fn new(target: Target, from: EdgeFrom) -> Edge {
        Edge {
            target: target.code(),
            from,
        }
    }

    pub fn target(self) -> Target {
        Target::from_code(self.target)
    }
}

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
/// place each came from; gives back the spare room.
pub fn sort_edges(edges: &mut ThinVec<Edge>) {
    // Stable: equal targets keep the order they were added in.
    edges.sort_by_key(|e| e.target);
    edges.dedup_by(|later, kept| {
        let same = later.target == kept.target;
        if same {
            kept.from = kept.from.union(later.from);
        }
        same
    });
    edges.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_their_places() {
        let edge = |t, from| Edge::new(Target::Task(t), from);
        let mut edges = thin_vec::thin_vec![
            edge(3, EdgeFrom::TRACK),
            edge(1, EdgeFrom::IN_ORDER),
            edge(3, EdgeFrom::HINT),
        ];
        sort_edges(&mut edges);
        let targets: Vec<Target> = edges.iter().map(|e| e.target()).collect();
        assert_eq!(targets, [Target::Task(1), Target::Task(3)]);
        assert_eq!(edges[1].from.names().collect::<Vec<_>>(), ["hint", "track"]);
        assert!(edges[0].from.derived_only());
        assert_eq!(edges.capacity(), 2, "no spare room kept");
    }

    #[test]
    fn packed_targets_keep_their_kind_index_and_order() {
        let targets = [
            Target::Task(0),
            Target::Task(7),
            Target::Task((1 << 31) - 1),
            Target::Section(0),
            Target::Section(3),
        ];
        for pair in targets.windows(2) {
            let (a, b) = (
                Edge::new(pair[0], EdgeFrom::HINT),
                Edge::new(pair[1], EdgeFrom::HINT),
            );
            assert_eq!((a.target(), b.target()), (pair[0], pair[1]));
            assert!(a.target < b.target, "{pair:?} sort as `Target` does");
        }
        assert_eq!(std::mem::size_of::<Edge>(), 8);
    }
}
