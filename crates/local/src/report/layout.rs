//! A layered layout of a directed graph with orthogonal edge routing, for the report's state
//! graphs.
//!
//! 1. Edges that close a cycle (found by a depth-first search from the start state, in the order
//!    of the definition) are reversed, so the rest is acyclic.
//! 2. Layers by longest path; a source other than the start sits just above its first successor.
//! 3. An edge spanning several layers gets one bend column (a "dummy" vertex) per layer between.
//! 4. The order inside each layer: barycentre sweeps, keeping the order with the fewest crossings.
//! 5. x positions: each layer as close as its spacing allows to its neighbours (isotonic
//!    regression, a few alternating passes).
//! 6. Routing: every edge leaves its source at its own port on the bottom side and enters its
//!    target at its own port on the top side; between two layers it runs down, along a horizontal
//!    track of its own, and down again. Ports are moved apart where a vertical run would share a
//!    line with another edge's, and two edges share a track only where their horizontal runs are
//!    apart. So no two edges overlap and no edge crosses a state (they may cross each other).
//!
//! Everything is deterministic: ties are broken by the order of the input.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use thiserror::Error;

/// A point (x, y) in SVG user units, y downwards.
pub type Point = (f64, f64);

/// A state's box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// One box per node, in input order.
    pub nodes: Vec<Rect>,
    /// One polyline per edge, in input order, from the source's border to the target's border
    /// (empty for an edge naming a node that does not exist).
    pub edges: Vec<Vec<Point>>,
}

/// The most vertices (states plus bend columns) a layout is computed for.
pub const MAX_VERTICES: usize = 3000;

#[derive(Debug, Error, PartialEq)]
pub enum LayoutError {
    #[error("the graph is too large to draw: {vertices} boxes and bends (at most {MAX_VERTICES})")]
    TooLarge { vertices: usize },
}

/// Width and height of a state's box (wider when many edges meet it).
pub const NODE_W: f64 = 190.0;
pub const NODE_H: f64 = 46.0;
/// The least distance between two parallel runs of different edges.
pub const MIN_SEP: f64 = 4.0;

const MARGIN: f64 = 20.0;
const GAP_REAL: f64 = 36.0;
const GAP_BEND: f64 = 16.0;
const BEND_W: f64 = 12.0;
const PORT_MIN: f64 = 12.0;
const TRACK_SP: f64 = 9.0;
const GAP_MIN_Y: f64 = 44.0;
const LOOP_REACH: f64 = 20.0;
const LOOP_STEP: f64 = 7.0;
const SWEEPS: usize = 8;
const X_PASSES: usize = 6;

struct Vertex {
    layer: usize,
    /// The node, or `None` for a bend column.
    node: Option<usize>,
    rect_w: f64,
    box_w: f64,
}

#[derive(Clone, Copy)]
struct Segment {
    upper: usize,
    lower: usize,
    upper_x: f64,
    lower_x: f64,
}

/// Lays out `node_count` nodes and `edges` (source, target), starting from `start`.
pub fn layout(
    node_count: usize,
    start: Option<usize>,
    edges: &[(usize, usize)],
) -> Result<Layout, LayoutError> {
    let n = node_count;
    let valid = |&(a, b): &(usize, usize)| a < n && b < n;
    let (disc, reversed) = classify(n, start, edges);
    let dag: Vec<Option<(usize, usize)>> = edges
        .iter()
        .zip(&reversed)
        .map(|(e, &rev)| (valid(e) && e.0 != e.1).then_some(if rev { (e.1, e.0) } else { *e }))
        .collect();
    let layer = assign_layers(n, start, &dag, &disc);
    let mut g = LayeredGraph::build(n, &layer, &dag, edges)?;
    g.order(&disc);
    g.place_x();
    g.assign_ports();
    g.separate_runs();
    let tracks = g.assign_tracks();
    Ok(g.finish(&tracks, edges, &dag, &reversed))
}

/// Depth-first discovery index of every node (the start first) and which edges close a cycle.
fn classify(n: usize, start: Option<usize>, edges: &[(usize, usize)]) -> (Vec<usize>, Vec<bool>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(a, b)) in edges.iter().enumerate() {
        if a < n && b < n && a != b {
            out[a].push(i);
        }
    }
    let mut disc = vec![usize::MAX; n];
    let mut on_stack = vec![false; n];
    let mut reversed = vec![false; edges.len()];
    let mut counter = 0;
    for root in start.filter(|&s| s < n).into_iter().chain(0..n) {
        if disc[root] != usize::MAX {
            continue;
        }
        disc[root] = counter;
        counter += 1;
        on_stack[root] = true;
        let mut stack = vec![(root, 0_usize)];
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            match out[v].get(next) {
                Some(&e) => {
                    top.1 += 1;
                    let w = edges[e].1;
                    if on_stack[w] {
                        reversed[e] = true;
                    } else if disc[w] == usize::MAX {
                        disc[w] = counter;
                        counter += 1;
                        on_stack[w] = true;
                        stack.push((w, 0));
                    }
                }
                None => {
                    on_stack[v] = false;
                    stack.pop();
                }
            }
        }
    }
    (disc, reversed)
}

/// Longest-path layers of the acyclic edges; sources other than the start are pulled down to
/// just above their nearest successor.
fn assign_layers(
    n: usize,
    start: Option<usize>,
    dag: &[Option<(usize, usize)>],
    disc: &[usize],
) -> Vec<usize> {
    let mut indegree = vec![0_usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in dag.iter().flatten() {
        indegree[b] += 1;
        succ[a].push(b);
    }
    let sources: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> =
        sources.iter().map(|&v| Reverse((disc[v], v))).collect();
    let mut layer = vec![0_usize; n];
    let mut remaining = indegree;
    while let Some(Reverse((_, v))) = heap.pop() {
        for &w in &succ[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            remaining[w] -= 1;
            if remaining[w] == 0 {
                heap.push(Reverse((disc[w], w)));
            }
        }
    }
    for v in sources {
        if Some(v) == start {
            continue;
        }
        if let Some(nearest) = succ[v].iter().map(|&w| layer[w]).min() {
            layer[v] = nearest.saturating_sub(1);
        }
    }
    layer
}

struct LayeredGraph {
    vertices: Vec<Vertex>,
    segments: Vec<Segment>,
    /// Per edge, its segments from the upper end to the lower end.
    chains: Vec<Vec<usize>>,
    layers: Vec<Vec<usize>>,
    /// Position of each vertex in its layer.
    pos: Vec<usize>,
    left: Vec<f64>,
    /// Per node, its self loops (edge indices).
    loops: Vec<Vec<usize>>,
}

impl LayeredGraph {
    fn build(
        n: usize,
        layer: &[usize],
        dag: &[Option<(usize, usize)>],
        edges: &[(usize, usize)],
    ) -> Result<Self, LayoutError> {
        let bends: usize = dag
            .iter()
            .flatten()
            .map(|&(a, b)| layer[b] - layer[a] - 1)
            .sum();
        if n + bends > MAX_VERTICES {
            return Err(LayoutError::TooLarge {
                vertices: n + bends,
            });
        }
        let mut loops = vec![Vec::new(); n];
        for (i, &(a, b)) in edges.iter().enumerate() {
            if a == b && a < n {
                loops[a].push(i);
            }
        }
        let mut vertices: Vec<Vertex> = (0..n)
            .map(|v| Vertex {
                layer: layer[v],
                node: Some(v),
                rect_w: NODE_W,
                box_w: NODE_W,
            })
            .collect();
        let mut segments = Vec::new();
        let mut chains = vec![Vec::new(); dag.len()];
        for (e, pair) in dag.iter().enumerate() {
            let Some(&(a, b)) = pair.as_ref() else {
                continue;
            };
            let mut prev = a;
            for l in layer[a] + 1..=layer[b] {
                let next = if l == layer[b] {
                    b
                } else {
                    vertices.push(Vertex {
                        layer: l,
                        node: None,
                        rect_w: BEND_W,
                        box_w: BEND_W,
                    });
                    vertices.len() - 1
                };
                chains[e].push(segments.len());
                segments.push(Segment {
                    upper: prev,
                    lower: next,
                    upper_x: 0.0,
                    lower_x: 0.0,
                });
                prev = next;
            }
        }
        let mut ins = vec![0_usize; vertices.len()];
        let mut outs = vec![0_usize; vertices.len()];
        for s in &segments {
            outs[s.upper] += 1;
            ins[s.lower] += 1;
        }
        for (v, vertex) in vertices.iter_mut().enumerate().take(n) {
            let ports = ins[v].max(outs[v]) as f64;
            vertex.rect_w = NODE_W.max((ports + 1.0) * PORT_MIN);
            let loop_reach = match loops[v].len() {
                0 => 0.0,
                k => LOOP_REACH + LOOP_STEP * k as f64 + MIN_SEP,
            };
            vertex.box_w = vertex.rect_w + loop_reach;
        }
        let layer_count = layer.iter().copied().max().map_or(0, |m| m + 1);
        let vertex_count = vertices.len();
        Ok(LayeredGraph {
            vertices,
            segments,
            chains,
            layers: vec![Vec::new(); layer_count],
            pos: vec![0; vertex_count],
            left: vec![0.0; vertex_count],
            loops,
        })
    }

    fn neighbours(&self, upward: bool) -> Vec<Vec<usize>> {
        let mut nb = vec![Vec::new(); self.vertices.len()];
        for s in &self.segments {
            if upward {
                nb[s.lower].push(s.upper);
            } else {
                nb[s.upper].push(s.lower);
            }
        }
        nb
    }

    /// The order inside each layer: discovery order, then barycentre sweeps.
    fn order(&mut self, disc: &[usize]) {
        let mut key = vec![0.0_f64; self.vertices.len()];
        for (v, vertex) in self.vertices.iter().enumerate() {
            key[v] = match vertex.node {
                Some(node) => disc[node] as f64,
                None => 0.0,
            };
        }
        // A bend column starts just after the upper end of its edge.
        for chain in &self.chains {
            for &s in chain.iter().skip(1) {
                let seg = self.segments[s];
                key[seg.upper] = key[self.segments[chain[0]].upper] + 0.5;
            }
        }
        for (v, vertex) in self.vertices.iter().enumerate() {
            self.layers[vertex.layer].push(v);
        }
        for layer in &mut self.layers {
            layer.sort_by(|a, b| key[*a].total_cmp(&key[*b]).then(a.cmp(b)));
        }
        self.reindex();
        let up = self.neighbours(true);
        let down = self.neighbours(false);
        let mut best = self.layers.clone();
        let mut best_crossings = self.crossings();
        for sweep in 0..SWEEPS {
            if best_crossings == 0 {
                break;
            }
            let layer_count = self.layers.len();
            if sweep % 2 == 0 {
                for l in 1..layer_count {
                    self.reorder(l, &up);
                }
            } else {
                for l in (0..layer_count.saturating_sub(1)).rev() {
                    self.reorder(l, &down);
                }
            }
            let c = self.crossings();
            if c < best_crossings {
                best_crossings = c;
                best = self.layers.clone();
            }
        }
        self.layers = best;
        self.reindex();
    }

    fn reindex(&mut self) {
        for layer in &self.layers {
            for (i, &v) in layer.iter().enumerate() {
                self.pos[v] = i;
            }
        }
    }

    fn reorder(&mut self, l: usize, neighbours: &[Vec<usize>]) {
        let key: Vec<(f64, usize)> = self.layers[l]
            .iter()
            .map(|&v| {
                let nb = &neighbours[v];
                let k = if nb.is_empty() {
                    self.pos[v] as f64
                } else {
                    nb.iter().map(|&u| self.pos[u] as f64).sum::<f64>() / nb.len() as f64
                };
                (k, self.pos[v])
            })
            .collect();
        let mut order: Vec<usize> = (0..self.layers[l].len()).collect();
        order.sort_by(|&a, &b| key[a].0.total_cmp(&key[b].0).then(key[a].1.cmp(&key[b].1)));
        self.layers[l] = order.iter().map(|&i| self.layers[l][i]).collect();
        for (i, &v) in self.layers[l].iter().enumerate() {
            self.pos[v] = i;
        }
    }

    /// Pairs of segments between the same two layers whose ends are in opposite order.
    fn crossings(&self) -> usize {
        let mut by_gap: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.layers.len()];
        for s in &self.segments {
            by_gap[self.vertices[s.upper].layer].push((self.pos[s.upper], self.pos[s.lower]));
        }
        by_gap
            .iter()
            .map(|segs| {
                let mut count = 0;
                for (i, a) in segs.iter().enumerate() {
                    for b in &segs[i + 1..] {
                        if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                            count += 1;
                        }
                    }
                }
                count
            })
            .sum()
    }

    fn gap_after(&self, a: usize, b: usize) -> f64 {
        let real = |v: usize| self.vertices[v].node.is_some();
        if real(a) && real(b) {
            GAP_REAL
        } else {
            GAP_BEND
        }
    }

    fn centre(&self, v: usize) -> f64 {
        self.left[v] + self.vertices[v].rect_w / 2.0
    }

    /// x positions: packed, then each layer pulled towards its neighbours, alternately from
    /// above and from below.
    fn place_x(&mut self) {
        for l in 0..self.layers.len() {
            let mut x = 0.0;
            for i in 0..self.layers[l].len() {
                let v = self.layers[l][i];
                self.left[v] = x;
                if let Some(&next) = self.layers[l].get(i + 1) {
                    x += self.vertices[v].box_w + self.gap_after(v, next);
                }
            }
        }
        let up = self.neighbours(true);
        let down = self.neighbours(false);
        let layer_count = self.layers.len();
        for pass in 0..X_PASSES {
            if pass % 2 == 0 {
                for l in 1..layer_count {
                    self.pull_layer(l, &up);
                }
            } else {
                for l in (0..layer_count.saturating_sub(1)).rev() {
                    self.pull_layer(l, &down);
                }
            }
        }
        self.straighten_bends();
        let min_left = self.left.iter().copied().fold(f64::INFINITY, f64::min);
        if min_left.is_finite() {
            for x in &mut self.left {
                *x += MARGIN - min_left;
            }
        }
    }

    fn pull_layer(&mut self, l: usize, neighbours: &[Vec<usize>]) {
        let layer = &self.layers[l];
        let mut targets = Vec::with_capacity(layer.len());
        let mut weights = Vec::with_capacity(layer.len());
        let mut offset = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            let nb = &neighbours[v];
            let desired = if nb.is_empty() {
                self.left[v]
            } else {
                nb.iter().map(|&u| self.centre(u)).sum::<f64>() / nb.len() as f64
                    - self.vertices[v].rect_w / 2.0
            };
            targets.push(desired - offset);
            weights.push(if self.vertices[v].node.is_some() {
                1.0
            } else {
                2.0
            });
            if let Some(&next) = layer.get(i + 1) {
                offset += self.vertices[v].box_w + self.gap_after(v, next);
            }
        }
        let fitted = isotonic(&targets, &weights);
        let mut offset = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            self.left[v] = fitted[i] + offset;
            if let Some(&next) = layer.get(i + 1) {
                offset += self.vertices[v].box_w + self.gap_after(v, next);
            }
        }
    }

    /// Puts the bend columns of each long edge on one vertical line where its neighbours in
    /// every layer leave room: the x nearest their mean within the room all of them have.
    fn straighten_bends(&mut self) {
        let long_edges: Vec<Vec<usize>> = self
            .chains
            .iter()
            .map(|chain| {
                chain
                    .iter()
                    .skip(1)
                    .map(|&s| self.segments[s].upper)
                    .collect()
            })
            .collect();
        for bends in long_edges {
            if bends.len() < 2 {
                continue;
            }
            let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
            for &b in &bends {
                let layer = &self.layers[self.vertices[b].layer];
                let p = self.pos[b];
                if let Some(&before) = p.checked_sub(1).and_then(|q| layer.get(q)) {
                    lo = lo.max(self.left[before] + self.vertices[before].box_w + GAP_BEND);
                }
                if let Some(&after) = layer.get(p + 1) {
                    hi = hi.min(self.left[after] - GAP_BEND - BEND_W);
                }
            }
            if lo > hi {
                continue;
            }
            let mean = bends.iter().map(|&b| self.left[b]).sum::<f64>() / bends.len() as f64;
            let x = mean.clamp(lo, hi);
            for &b in &bends {
                self.left[b] = x;
            }
        }
    }

    /// Ports: a state spreads its edges over its bottom (outgoing) and top (incoming) sides in
    /// the order of their other ends; a bend column has one x.
    fn assign_ports(&mut self) {
        let mut outs: Vec<Vec<usize>> = vec![Vec::new(); self.vertices.len()];
        let mut ins: Vec<Vec<usize>> = vec![Vec::new(); self.vertices.len()];
        for (i, s) in self.segments.iter().enumerate() {
            outs[s.upper].push(i);
            ins[s.lower].push(i);
        }
        for v in 0..self.vertices.len() {
            let mut o = std::mem::take(&mut outs[v]);
            o.sort_by(|&a, &b| {
                self.centre(self.segments[a].lower)
                    .total_cmp(&self.centre(self.segments[b].lower))
                    .then(a.cmp(&b))
            });
            for (k, &s) in o.iter().enumerate() {
                self.segments[s].upper_x = self.port_x(v, k, o.len());
            }
            let mut i = std::mem::take(&mut ins[v]);
            i.sort_by(|&a, &b| {
                self.centre(self.segments[a].upper)
                    .total_cmp(&self.centre(self.segments[b].upper))
                    .then(a.cmp(&b))
            });
            for (k, &s) in i.iter().enumerate() {
                self.segments[s].lower_x = self.port_x(v, k, i.len());
            }
        }
    }

    fn port_x(&self, v: usize, k: usize, count: usize) -> f64 {
        let w = self.vertices[v].rect_w;
        self.left[v] + w * (k + 1) as f64 / (count + 1) as f64
    }

    /// Between two layers, moves each edge's lower vertical run off any other edge's upper run
    /// (and onto its own, making it straight, where that is close): layer by layer from the top,
    /// so a moved bend column carries its x into the next gap.
    fn separate_runs(&mut self) {
        let mut by_gap: Vec<Vec<usize>> = vec![Vec::new(); self.layers.len()];
        for (i, s) in self.segments.iter().enumerate() {
            by_gap[self.vertices[s.upper].layer].push(i);
        }
        let mut next_of_bend = vec![usize::MAX; self.vertices.len()];
        for (i, s) in self.segments.iter().enumerate() {
            next_of_bend[s.upper] = i;
        }
        for gap in &by_gap {
            for &s in gap {
                let seg = self.segments[s];
                let limit = self.shift_limit(seg.lower);
                let taken: Vec<f64> = gap
                    .iter()
                    .filter(|&&t| t != s)
                    .flat_map(|&t| [self.segments[t].upper_x, self.segments[t].lower_x])
                    .collect();
                let free = |x: f64| {
                    taken.iter().all(|t| (t - x).abs() >= MIN_SEP)
                        && (x == seg.upper_x || (x - seg.upper_x).abs() >= MIN_SEP)
                };
                let straight = (seg.upper_x - seg.lower_x).abs() <= limit;
                let mut candidates = Vec::new();
                if straight {
                    candidates.push(seg.upper_x);
                }
                let steps = (limit / (MIN_SEP / 2.0)).floor() as i32;
                candidates.push(seg.lower_x);
                for k in 1..=steps {
                    let d = f64::from(k) * MIN_SEP / 2.0;
                    candidates.push(seg.lower_x + d);
                    candidates.push(seg.lower_x - d);
                }
                let Some(x) = candidates.into_iter().find(|&x| free(x)) else {
                    continue;
                };
                self.segments[s].lower_x = x;
                if self.vertices[seg.lower].node.is_none() {
                    let next = next_of_bend[seg.lower];
                    if next != usize::MAX {
                        self.segments[next].upper_x = x;
                    }
                }
            }
        }
    }

    /// How far an edge's entry into `v` may move: within a bend column, or within half the
    /// spacing of the state's ports.
    fn shift_limit(&self, v: usize) -> f64 {
        let vertex = &self.vertices[v];
        if vertex.node.is_none() {
            return BEND_W / 2.0 - 1.0;
        }
        let ins = self.segments.iter().filter(|s| s.lower == v).count();
        (vertex.rect_w / (ins + 1) as f64 / 2.0 - MIN_SEP / 2.0).max(0.0)
    }

    /// Per gap between layers, the track of each segment that has a horizontal run (others:
    /// `None`), and the number of tracks.
    fn assign_tracks(&self) -> (Vec<Option<usize>>, Vec<usize>) {
        let mut track = vec![None; self.segments.len()];
        let mut counts = vec![0; self.layers.len()];
        let mut by_gap: Vec<Vec<usize>> = vec![Vec::new(); self.layers.len()];
        for (i, s) in self.segments.iter().enumerate() {
            if s.upper_x != s.lower_x {
                by_gap[self.vertices[s.upper].layer].push(i);
            }
        }
        for (gap, segs) in by_gap.iter_mut().enumerate() {
            // Rightward runs first, the rightmost start on top; then leftward, the leftmost on
            // top: runs in the same direction then do not cross each other's verticals.
            let rightward = |s: &Segment| s.lower_x > s.upper_x;
            segs.sort_by(|&a, &b| {
                let (sa, sb) = (&self.segments[a], &self.segments[b]);
                match (rightward(sa), rightward(sb)) {
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    (true, true) => sb.upper_x.total_cmp(&sa.upper_x),
                    (false, false) => sa.upper_x.total_cmp(&sb.upper_x),
                }
                .then(a.cmp(&b))
            });
            let mut tracks: Vec<Vec<(f64, f64)>> = Vec::new();
            for &s in segs.iter() {
                let seg = &self.segments[s];
                let span = (seg.upper_x.min(seg.lower_x), seg.upper_x.max(seg.lower_x));
                let apart = |o: &(f64, f64)| span.1 + MIN_SEP <= o.0 || o.1 + MIN_SEP <= span.0;
                let k = match tracks.iter().position(|t| t.iter().all(apart)) {
                    Some(k) => k,
                    None => {
                        tracks.push(Vec::new());
                        tracks.len() - 1
                    }
                };
                tracks[k].push(span);
                track[s] = Some(k);
            }
            counts[gap] = tracks.len();
        }
        (track, counts)
    }

    fn finish(
        &self,
        (track, counts): &(Vec<Option<usize>>, Vec<usize>),
        edges: &[(usize, usize)],
        dag: &[Option<(usize, usize)>],
        reversed: &[bool],
    ) -> Layout {
        let gap_h: Vec<f64> = counts
            .iter()
            .map(|&c| GAP_MIN_Y.max((c + 1) as f64 * TRACK_SP))
            .collect();
        let mut top = Vec::with_capacity(self.layers.len());
        let mut y = MARGIN;
        for h in &gap_h {
            top.push(y);
            y += NODE_H + h;
        }
        let height = top.last().map_or(MARGIN, |t| t + NODE_H) + MARGIN;
        let track_y = |s: usize, k: usize| {
            let gap = self.vertices[self.segments[s].upper].layer;
            top[gap] + NODE_H + gap_h[gap] * (k + 1) as f64 / (counts[gap] + 1) as f64
        };
        let nodes: Vec<Rect> = self
            .vertices
            .iter()
            .enumerate()
            .filter(|(_, v)| v.node.is_some())
            .map(|(i, v)| Rect {
                x: self.left[i],
                y: top[v.layer],
                w: v.rect_w,
                h: NODE_H,
            })
            .collect();
        let mut paths = vec![Vec::new(); edges.len()];
        for (e, chain) in self.chains.iter().enumerate() {
            if dag[e].is_none() {
                continue;
            }
            let mut points = Vec::new();
            for &s in chain {
                let seg = &self.segments[s];
                let upper_layer = self.vertices[seg.upper].layer;
                let lower_layer = self.vertices[seg.lower].layer;
                points.push((seg.upper_x, top[upper_layer] + NODE_H));
                if let Some(k) = track[s] {
                    points.push((seg.upper_x, track_y(s, k)));
                    points.push((seg.lower_x, track_y(s, k)));
                }
                points.push((seg.lower_x, top[lower_layer]));
            }
            let mut points = simplify(points);
            if reversed[e] {
                points.reverse();
            }
            paths[e] = points;
        }
        for (v, loops) in self.loops.iter().enumerate() {
            let r = nodes[v];
            let mid = r.y + r.h / 2.0;
            for (k, &e) in loops.iter().enumerate() {
                // Nested, the outermost still on the state's side.
                let spread = ((r.h / 2.0 - 11.0) / loops.len() as f64).min(5.0);
                let (y1, y2) = (mid - 9.0 - spread * k as f64, mid + 9.0 + spread * k as f64);
                let x = r.x + r.w + LOOP_REACH + LOOP_STEP * k as f64;
                paths[e] = vec![(r.x + r.w, y1), (x, y1), (x, y2), (r.x + r.w, y2)];
            }
        }
        let width = self
            .vertices
            .iter()
            .enumerate()
            .map(|(i, v)| self.left[i] + v.box_w)
            .fold(0.0, f64::max)
            + MARGIN;
        Layout {
            width,
            height,
            nodes,
            edges: paths,
        }
    }
}

/// Drops repeated points and the middle of three points on one vertical or horizontal line.
fn simplify(points: Vec<Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for p in points {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            if (a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1) {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

/// Weighted isotonic regression (pool adjacent violators): the non-decreasing sequence closest
/// to `targets` in weighted least squares.
fn isotonic(targets: &[f64], weights: &[f64]) -> Vec<f64> {
    // (weighted sum, total weight, count)
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for (&t, &w) in targets.iter().zip(weights) {
        blocks.push((t * w, w, 1));
        while blocks.len() >= 2 {
            let b = blocks[blocks.len() - 1];
            let a = blocks[blocks.len() - 2];
            if a.0 / a.1 <= b.0 / b.1 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        }
    }
    blocks
        .iter()
        .flat_map(|&(s, w, c)| std::iter::repeat_n(s / w, c))
        .collect()
}

/// Whether two straight segments lie on one line (within `tolerance`) and share more than
/// `tolerance` of its length.
pub fn segments_overlap(p: (Point, Point), q: (Point, Point), tolerance: f64) -> bool {
    let (dx, dy) = (p.1.0 - p.0.0, p.1.1 - p.0.1);
    let len = dx.hypot(dy);
    let (qdx, qdy) = (q.1.0 - q.0.0, q.1.1 - q.0.1);
    if len <= f64::EPSILON || qdx.hypot(qdy) <= f64::EPSILON {
        return false;
    }
    let (ux, uy) = (dx / len, dy / len);
    let off_line = |pt: Point| ((pt.0 - p.0.0) * uy - (pt.1 - p.0.1) * ux).abs();
    if off_line(q.0) > tolerance || off_line(q.1) > tolerance {
        return false;
    }
    let along = |pt: Point| (pt.0 - p.0.0) * ux + (pt.1 - p.0.1) * uy;
    let (a, b) = (along(q.0), along(q.1));
    a.max(b).min(len) - a.min(b).max(0.0) > tolerance
}

/// Pairs of edges (indices into `edges`, each a polyline) with a stretch of line in common.
pub fn overlapping_edges(edges: &[Vec<Point>], tolerance: f64) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, a) in edges.iter().enumerate() {
        for (j, b) in edges.iter().enumerate().skip(i + 1) {
            let shared = a.windows(2).any(|p| {
                b.windows(2)
                    .any(|q| segments_overlap((p[0], p[1]), (q[0], q[1]), tolerance))
            });
            if shared {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// Whether the segment from `a` to `b` passes through the inside of `r` shrunk by `inset`.
pub fn segment_enters_rect(a: Point, b: Point, r: &Rect, inset: f64) -> bool {
    let (x0, x1) = (r.x + inset, r.x + r.w - inset);
    let (y0, y1) = (r.y + inset, r.y + r.h - inset);
    if x0 >= x1 || y0 >= y1 {
        return false;
    }
    // Liang–Barsky clipping of the segment to the rectangle.
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q <= 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t1 - t0 > f64::EPSILON
}

/// (edge, node) pairs where an edge's line passes through a node's box.
pub fn edges_through_nodes(edges: &[Vec<Point>], nodes: &[Rect]) -> Vec<(usize, usize)> {
    let mut hits = Vec::new();
    for (e, points) in edges.iter().enumerate() {
        for (n, r) in nodes.iter().enumerate() {
            if points
                .windows(2)
                .any(|w| segment_enters_rect(w[0], w[1], r, 1.0))
            {
                hits.push((e, n));
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests;
