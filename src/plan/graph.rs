//! Cycle search over the dependency graph with an explicit stack, so a cycle
//! is reported as the path a person can read and break.

/// A directed graph as one flat array of edges, node by node: no vector
/// per node, so a graph of 100,000 nodes is two allocations (of `u32`s:
/// half the memory, and a plan has far fewer than 4 billion of either).
#[derive(Debug, Default)]
pub struct Graph {
    /// Where each node's edges start in `to`; one more entry than nodes.
    starts: Vec<u32>,
    to: Vec<u32>,
}

impl Graph {
    pub fn with_capacity(nodes: usize) -> Graph {
        let mut starts = Vec::with_capacity(nodes + 1);
        starts.push(0);
        Graph {
            starts,
            to: Vec::with_capacity(nodes),
        }
    }

    /// Adds edges from the node being built.
    pub fn extend(&mut self, to: impl IntoIterator<Item = usize>) {
        self.to.extend(to.into_iter().map(small));
    }

    /// Ends the node being built; the next edges belong to the next node.
    pub fn end_node(&mut self) {
        self.starts.push(small(self.to.len()));
    }

    fn nodes(&self) -> usize {
        self.starts.len() - 1
    }

    fn edges(&self, node: usize) -> &[u32] {
        &self.to[self.starts[node] as usize..self.starts[node + 1] as usize]
    }

    /// Finds a cycle; returns its nodes in order, with the first repeated at
    /// the end.
    pub fn find_cycle(&self) -> Option<Vec<usize>> {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.nodes()];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in 0..self.nodes() {
            if state[root] != NEW {
                continue;
            }
            stack.push((root, 0));
            state[root] = OPEN;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&to) = self.edges(node).get(*next) {
                    let to = to as usize;
                    *next += 1;
                    match state[to] {
                        NEW => {
                            state[to] = OPEN;
                            stack.push((to, 0));
                        }
                        OPEN => {
                            let from = stack.iter().position(|&(n, _)| n == to).unwrap();
                            let mut cycle: Vec<usize> =
                                stack[from..].iter().map(|&(n, _)| n).collect();
                            cycle.push(to);
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    state[node] = DONE;
                    stack.pop();
                }
            }
        }
        None
    }
}

fn small(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 4 billion tasks, sections and edges")
}

#[cfg(test)]
mod tests {
    use super::Graph;

    fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
        let mut g = Graph::with_capacity(edges.len());
        for e in edges {
            g.extend(e.iter().copied());
            g.end_node();
        }
        g.find_cycle()
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
