//! Cycle search over a dependency graph read where its edges are kept,
//! with an explicit stack, so a cycle is reported as the path a person can
//! read and break. Takes a way to walk each node's edges in order; hands
//! on the first cycle found; never copies the graph.

/// A graph read in place: a cursor per node on the search's stack walks
/// that node's edges, in the order the search tries them.
pub trait Edges {
    type Cursor;
    fn nodes(&self) -> usize;
    /// A cursor before `node`'s first edge.
    fn cursor(&self, node: usize) -> Self::Cursor;
    /// The next edge under `cursor`, moving it on.
    fn next(&self, cursor: &mut Self::Cursor) -> Option<usize>;
}

/// Finds a cycle; returns its nodes in order, with the first repeated at
/// the end.
pub fn find_cycle<G: Edges>(graph: &G) -> Option<Vec<usize>> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; graph.nodes()];
    let mut stack: Vec<(u32, G::Cursor)> = Vec::new();
    for root in 0..graph.nodes() {
        if state[root] != NEW {
            continue;
        }
        stack.push((small(root), graph.cursor(root)));
        state[root] = OPEN;
        while let Some((node, cursor)) = stack.last_mut() {
            let node = *node as usize;
            let Some(to) = graph.next(cursor) else {
                state[node] = DONE;
                stack.pop();
                continue;
            };
            match state[to] {
                NEW => {
                    state[to] = OPEN;
                    stack.push((small(to), graph.cursor(to)));
                }
                OPEN => {
                    let from = stack.iter().position(|&(n, _)| n as usize == to);
                    let mut cycle: Vec<usize> = stack[from.unwrap_or(0)..]
                        .iter()
                        .map(|&(n, _)| n as usize)
                        .collect();
                    cycle.push(to);
                    return Some(cycle);
                }
                _ => {}
            }
        }
    }
    None
}

fn small(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 4 billion tasks and sections")
}

#[cfg(test)]
mod tests {
    use super::Edges;

    /// Edges as lists, node by node.
    struct Lists(Vec<Vec<usize>>);

    impl Edges for Lists {
        type Cursor = (usize, usize);

        fn nodes(&self) -> usize {
            self.0.len()
        }

        fn cursor(&self, node: usize) -> (usize, usize) {
            (node, 0)
        }

        fn next(&self, (node, next): &mut (usize, usize)) -> Option<usize> {
            let to = self.0[*node].get(*next).copied();
            *next += 1;
            to
        }
    }

    fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
        super::find_cycle(&Lists(edges.to_vec()))
    }

    #[test]
    fn finds_the_cycle_path() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![1]]),
            Some(vec![1, 2, 1])
        );
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let n = 200_000;
        let edges: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        assert_eq!(find_cycle(&edges), None);
    }
}
