//! The bounded builder of a root span's [`ExecutionTrace`].
//!
//! Shared (behind a mutex) by a root span and every span below it, wherever
//! they run. A span gets a node when it is created, in creation order, and
//! fills it in when it closes; the root turns the nodes into a tree when it
//! closes (the registry closes a parent only after all its children).
//! At most [`ExecutionTrace::MAX_NODES`] nodes and
//! [`ExecutionTrace::MAX_DEPTH`] levels are kept; any other span is counted
//! in `omitted` the moment it is created, so the builder never grows past its
//! bound however long the root stays open.

use crate::callsite::Callsite;
use crate::event::Status;
use crate::span_trace::{ExecutionTrace, TraceNode};
use crate::ticks::nanos_between;

/// Where a new span hangs in its root's trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Parent {
    /// Directly below the root.
    Root,
    /// Below the span that owns this node.
    Node(u32),
    /// Below a span that was left out: left out too.
    Omitted,
}

struct PendingNode {
    callsite: &'static Callsite,
    /// Index of the parent node; `u32::MAX` for the root's direct children.
    parent: u32,
    start: u64,
    /// Raw ticks at close; `None` while the span is open.
    end: Option<u64>,
    status: Status,
    error: Option<String>,
}

const ROOT: u32 = u32::MAX;

/// Nodes of one root's trace, collected while its spans run.
#[derive(Default)]
pub(super) struct TraceBuilder {
    nodes: Vec<PendingNode>,
    omitted: u64,
}

impl TraceBuilder {
    /// Adds a span created at `start` (raw ticks) at `depth` (1 for the root's
    /// children). Returns its node, or `None` when it was left out (counted).
    pub(super) fn add(
        &mut self,
        parent: Parent,
        depth: usize,
        callsite: &'static Callsite,
        start: u64,
    ) -> Option<u32> {
        let parent = match parent {
            Parent::Root => ROOT,
            Parent::Node(index) => index,
            Parent::Omitted => return self.omit(),
        };
        if depth > ExecutionTrace::MAX_DEPTH || self.nodes.len() >= ExecutionTrace::MAX_NODES {
            return self.omit();
        }
        let index = self.nodes.len() as u32;
        self.nodes.push(PendingNode {
            callsite,
            parent,
            start,
            end: None,
            status: Status::Success,
            error: None,
        });
        Some(index)
    }

    fn omit(&mut self) -> Option<u32> {
        self.omitted += 1;
        None
    }

    /// Records how the span owning `index` ended.
    pub(super) fn close(&mut self, index: u32, end: u64, status: Status, error: Option<String>) {
        if let Some(node) = self.nodes.get_mut(index as usize) {
            node.end = Some(end);
            node.status = status;
            node.error = error;
        }
    }

    /// The finished tree of a root that started at `root_start` and closed at
    /// `root_end` (raw ticks). Leaves the builder empty. A span still open (not
    /// possible with the `Registry`, which closes parents after children) is
    /// shown with its time up to the root's close.
    pub(super) fn finish(&mut self, root_start: u64, root_end: u64) -> ExecutionTrace {
        let nodes = std::mem::take(&mut self.nodes);
        let mut children: Vec<Vec<u32>> = Vec::new();
        children.resize_with(nodes.len(), Vec::new);
        let mut top = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            // Parents are added before their children, so the index is valid;
            // anything else would hang from the root rather than panic.
            let list = match children.get_mut(node.parent as usize) {
                Some(list) if node.parent != ROOT && (node.parent as usize) < index => list,
                _ => &mut top,
            };
            list.push(index as u32);
        }
        // Creation order is start order on one thread; across threads two
        // starts read a few nanoseconds apart can be swapped: sort (stable).
        let by_start = |list: &mut Vec<u32>| list.sort_by_key(|&index| nodes[index as usize].start);
        by_start(&mut top);
        children.iter_mut().for_each(by_start);
        let mut nodes: Vec<Option<PendingNode>> = nodes.into_iter().map(Some).collect();
        let context = Finish {
            children: &children,
            root_start,
            root_end,
        };
        let trace_children = top
            .iter()
            .filter_map(|&index| context.build(index, &mut nodes))
            .collect();
        ExecutionTrace {
            children: trace_children,
            truncated: self.omitted > 0,
            omitted: std::mem::take(&mut self.omitted),
        }
    }
}

struct Finish<'a> {
    children: &'a [Vec<u32>],
    root_start: u64,
    root_end: u64,
}

impl Finish<'_> {
    /// Recursion is bounded by `MAX_DEPTH`.
    fn build(&self, index: u32, nodes: &mut [Option<PendingNode>]) -> Option<TraceNode> {
        let node = nodes.get_mut(index as usize)?.take()?;
        let end = node.end.unwrap_or(self.root_end);
        Some(TraceNode {
            name: node.callsite.resolved_name(),
            status: node.status,
            duration_ms: millis(nanos_between(node.start, end)),
            start_offset_ms: millis(nanos_between(self.root_start, node.start)),
            error: node.error,
            children: self.children[index as usize]
                .iter()
                .filter_map(|&child| self.build(child, nodes))
                .collect(),
        })
    }
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: Callsite = Callsite::new(Some("t::a"), "t", "a", "span", "t.rs", 1, None, None);
    static B: Callsite = Callsite::new(Some("t::b"), "t", "b", "span", "t.rs", 2, None, None);
    static C: Callsite = Callsite::new(Some("t::c"), "t", "c", "span", "t.rs", 3, None, None);

    fn names(nodes: &[TraceNode]) -> Vec<&str> {
        nodes.iter().map(|node| node.name.as_str()).collect()
    }

    #[test]
    fn nodes_become_a_tree_in_start_order() {
        let mut builder = TraceBuilder::default();
        let a = builder.add(Parent::Root, 1, &A, 10).unwrap();
        let c = builder.add(Parent::Node(a), 2, &C, 30).unwrap();
        // Created later but started earlier (another thread): sorted first.
        let b = builder.add(Parent::Node(a), 2, &B, 20).unwrap();
        builder.close(c, 40, Status::Error, Some("boom".into()));
        builder.close(b, 25, Status::Success, None);
        builder.close(a, 50, Status::Success, None);
        let trace = builder.finish(0, 60);
        assert!(!trace.truncated);
        assert_eq!(trace.omitted, 0);
        assert_eq!(names(&trace.children), ["t::a"]);
        let a = &trace.children[0];
        assert_eq!(names(&a.children), ["t::b", "t::c"]);
        assert_eq!(a.children[1].status, Status::Error);
        assert_eq!(a.children[1].error.as_deref(), Some("boom"));
        assert!(a.children[0].start_offset_ms <= a.children[1].start_offset_ms);
        assert!(builder.nodes.is_empty());
    }

    #[test]
    fn width_and_depth_are_bounded_and_counted() {
        let mut builder = TraceBuilder::default();
        for tick in 0..(ExecutionTrace::MAX_NODES as u64 + 10) {
            if let Some(index) = builder.add(Parent::Root, 1, &A, tick) {
                builder.close(index, tick + 1, Status::Success, None);
            }
        }
        let trace = builder.finish(0, 1_000);
        assert_eq!(trace.children.len(), ExecutionTrace::MAX_NODES);
        assert!(trace.truncated);
        assert_eq!(trace.omitted, 10);

        let mut builder = TraceBuilder::default();
        let mut parent = Parent::Root;
        for depth in 1..=ExecutionTrace::MAX_DEPTH + 3 {
            parent = match builder.add(parent, depth, &B, depth as u64) {
                Some(index) => Parent::Node(index),
                None => Parent::Omitted,
            };
        }
        let trace = builder.finish(0, 100);
        assert_eq!(trace.omitted, 3);
        let mut depth = 0;
        let mut level = &trace.children;
        while let Some(node) = level.first() {
            depth += 1;
            level = &node.children;
        }
        assert_eq!(depth, ExecutionTrace::MAX_DEPTH);
    }

    #[test]
    fn open_spans_end_with_the_root() {
        let mut builder = TraceBuilder::default();
        builder.add(Parent::Root, 1, &A, 0);
        let trace = builder.finish(0, 2_000_000);
        assert_eq!(trace.children.len(), 1);
    }
}
