use super::*;

/// Every property the report relies on: one box per node, none overlapping another; every edge
/// a polyline of horizontal and vertical runs from its source's border to its target's border;
/// no two edges sharing a stretch of line; no edge through a box.
fn assert_well_drawn(n: usize, edges: &[(usize, usize)], placed: &Layout, what: &str) {
    assert_eq!(placed.nodes.len(), n, "{what}");
    assert_eq!(placed.edges.len(), edges.len(), "{what}");
    for (i, a) in placed.nodes.iter().enumerate() {
        assert!(a.x >= 0.0 && a.y >= 0.0, "{what}: node {i} at {a:?}");
        assert!(
            a.x + a.w <= placed.width && a.y + a.h <= placed.height,
            "{what}: node {i} {a:?} outside {}x{}",
            placed.width,
            placed.height
        );
        for (j, b) in placed.nodes.iter().enumerate().skip(i + 1) {
            let apart =
                a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            assert!(apart, "{what}: nodes {i} {a:?} and {j} {b:?} overlap");
        }
    }
    let on_border = |p: Point, r: &Rect| {
        let inside_x = p.0 >= r.x - 1e-9 && p.0 <= r.x + r.w + 1e-9;
        let inside_y = p.1 >= r.y - 1e-9 && p.1 <= r.y + r.h + 1e-9;
        let on_x = (p.0 - r.x).abs() < 1e-9 || (p.0 - r.x - r.w).abs() < 1e-9;
        let on_y = (p.1 - r.y).abs() < 1e-9 || (p.1 - r.y - r.h).abs() < 1e-9;
        inside_x && inside_y && (on_x || on_y)
    };
    for (e, (&(a, b), points)) in edges.iter().zip(&placed.edges).enumerate() {
        assert!(points.len() >= 2, "{what}: edge {e} {a}->{b}: {points:?}");
        assert!(
            on_border(points[0], &placed.nodes[a]),
            "{what}: edge {e} starts at {:?}, not on {:?}",
            points[0],
            placed.nodes[a]
        );
        let last = points[points.len() - 1];
        assert!(
            on_border(last, &placed.nodes[b]),
            "{what}: edge {e} ends at {last:?}, not on {:?}",
            placed.nodes[b]
        );
        for w in points.windows(2) {
            assert!(
                w[0].0 == w[1].0 || w[0].1 == w[1].1,
                "{what}: edge {e} has a slanted run {w:?}"
            );
        }
    }
    let overlaps = overlapping_edges(&placed.edges, MIN_SEP / 2.0);
    assert!(
        overlaps.is_empty(),
        "{what}: overlapping edges {overlaps:?}: {:?}",
        overlaps
            .iter()
            .map(|&(i, j)| (edges[i], &placed.edges[i], edges[j], &placed.edges[j]))
            .collect::<Vec<_>>()
    );
    let through = edges_through_nodes(&placed.edges, &placed.nodes);
    assert!(
        through.is_empty(),
        "{what}: edges through boxes {through:?}"
    );
}

fn project_machine(name: &str) -> (usize, Option<usize>, Vec<(usize, usize)>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../statemachine")
        .join(format!("{name}.asl.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let def: serde_json::Value = serde_json::from_str(&text).unwrap();
    let states = def["States"].as_object().unwrap();
    let index: std::collections::HashMap<&str, usize> = states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let edges = super::super::edges_of(states)
        .iter()
        .map(|e| (index[e.from.as_str()], index[e.to.as_str()]))
        .collect();
    let start = def["StartAt"].as_str().map(|s| index[s]);
    (states.len(), start, edges)
}

#[test]
fn given_the_projects_state_machines_when_laid_out_then_no_edges_overlap_or_cross_a_state() {
    for name in ["training", "evaluation"] {
        let (n, start, edges) = project_machine(name);
        assert!(edges.len() > n, "{name}: {} edges", edges.len());
        let placed = layout(n, start, &edges).unwrap();
        assert_well_drawn(n, &edges, &placed, name);
        // The start state is alone on the top layer.
        let top = placed
            .nodes
            .iter()
            .map(|r| r.y)
            .fold(f64::INFINITY, f64::min);
        let on_top: Vec<usize> = (0..n).filter(|&i| placed.nodes[i].y == top).collect();
        assert_eq!(on_top, vec![start.unwrap()], "{name}");
    }
}

/// A small deterministic generator (xorshift64*), so the graphs are the same on every run.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

#[test]
fn given_generated_graphs_with_cycles_loops_and_parallel_edges_when_laid_out_then_well_drawn() {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    for case in 0..400 {
        let n = 1 + rng.below(24);
        let m = rng.below(3 * n + 1);
        let mut edges = Vec::new();
        // A spine from the start, as a state machine has, then arbitrary edges: forward,
        // backward, parallel and, rarely, a state to itself.
        for v in 1..n {
            if rng.below(4) > 0 {
                edges.push((rng.below(v), v));
            }
        }
        for _ in 0..m {
            let a = rng.below(n);
            let b = if rng.below(12) == 0 { a } else { rng.below(n) };
            edges.push((a, b));
        }
        let start = (n > 0).then_some(0);
        let placed = layout(n, start, &edges).unwrap();
        assert_well_drawn(
            n,
            &edges,
            &placed,
            &format!("case {case}: {n} nodes {edges:?}"),
        );
    }
}

#[test]
fn given_the_same_graph_when_laid_out_twice_then_the_same_layout() {
    let (n, start, edges) = project_machine("training");
    assert_eq!(
        layout(n, start, &edges).unwrap(),
        layout(n, start, &edges).unwrap()
    );
}

#[test]
fn given_a_chain_when_laid_out_then_one_state_per_layer_joined_by_straight_edges() {
    let placed = layout(3, Some(0), &[(0, 1), (1, 2)]).unwrap();
    let ys: Vec<f64> = placed.nodes.iter().map(|r| r.y).collect();
    assert!(ys[0] < ys[1] && ys[1] < ys[2], "{ys:?}");
    for (e, points) in placed.edges.iter().enumerate() {
        assert_eq!(points.len(), 2, "edge {e}: {points:?}");
        assert_eq!(points[0].0, points[1].0, "edge {e} is vertical: {points:?}");
    }
}

#[test]
fn given_a_loop_back_when_laid_out_then_the_edge_ends_on_the_earlier_state() {
    // 0 → 1 → 2 → 0: the closing edge runs upwards into state 0's bottom side.
    let edges = [(0, 1), (1, 2), (2, 0)];
    let placed = layout(3, Some(0), &edges).unwrap();
    assert_well_drawn(3, &edges, &placed, "cycle");
    let back = &placed.edges[2];
    let r0 = placed.nodes[0];
    assert_eq!(back.last().unwrap().1, r0.y + r0.h, "{back:?}");
    assert!(back[0].1 < placed.nodes[2].y + placed.nodes[2].h);
}

#[test]
fn given_a_state_with_several_edges_to_itself_when_laid_out_then_nested_loops_on_its_side() {
    let edges = [(0, 1), (1, 1), (1, 1), (1, 1), (1, 1), (1, 2)];
    let placed = layout(3, Some(0), &edges).unwrap();
    assert_well_drawn(3, &edges, &placed, "self loops");
    let r = placed.nodes[1];
    for points in &placed.edges[1..5] {
        assert_eq!(points.len(), 4, "{points:?}");
        assert!(
            points.iter().all(|p| p.0 >= r.x + r.w),
            "right of the state: {points:?}"
        );
        assert!(points[0].1 > r.y && points[3].1 < r.y + r.h, "{points:?}");
    }
}

#[test]
fn given_a_long_loop_back_with_room_beside_the_states_when_laid_out_then_its_bends_are_one_line() {
    // Submit → Wait → Poll → Done?, which goes back to Wait or to Submit, or on to Publish; Notify
    // on failures. The edge Done? → Submit passes two layers in one vertical run.
    let edges = [
        (0, 1),
        (0, 5),
        (1, 2),
        (2, 3),
        (2, 5),
        (3, 1),
        (3, 5),
        (3, 0),
        (3, 4),
        (4, 7),
        (4, 4),
        (5, 6),
    ];
    let placed = layout(8, Some(0), &edges).unwrap();
    assert_well_drawn(8, &edges, &placed, "polling loop");
    let back = &placed.edges[7];
    let span = placed.nodes[3].y - (placed.nodes[0].y + placed.nodes[0].h);
    let longest = back
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| (w[1].1 - w[0].1).abs())
        .fold(0.0, f64::max);
    assert!(longest > span * 0.6, "one run up most of the way: {back:?}");
}

#[test]
fn given_an_edge_to_a_missing_node_when_laid_out_then_it_has_no_path() {
    let placed = layout(2, Some(0), &[(0, 1), (0, 7)]).unwrap();
    assert_eq!(placed.edges[0].len(), 2);
    assert!(placed.edges[1].is_empty());
}

#[test]
fn given_a_graph_needing_too_many_bends_when_laid_out_then_too_large() {
    // A chain of 200 states and 20 edges from the last back to the first: 20 × 198 bends.
    let mut edges: Vec<(usize, usize)> = (0..199).map(|i| (i, i + 1)).collect();
    edges.extend(std::iter::repeat_n((199, 0), 20));
    assert_eq!(
        layout(200, Some(0), &edges),
        Err(LayoutError::TooLarge {
            vertices: 200 + 20 * 198
        })
    );
}

#[test]
fn given_segments_when_compared_then_only_collinear_shared_stretches_overlap() {
    let h = |x0, x1, y| ((x0, y), (x1, y));
    assert!(segments_overlap(h(0.0, 10.0, 5.0), h(5.0, 20.0, 5.0), 1.0));
    assert!(segments_overlap(h(0.0, 10.0, 5.0), h(8.0, 2.0, 5.5), 1.0));
    assert!(
        !segments_overlap(h(0.0, 10.0, 5.0), h(10.5, 20.0, 5.0), 1.0),
        "touching ends"
    );
    assert!(
        !segments_overlap(h(0.0, 10.0, 5.0), h(0.0, 10.0, 8.0), 1.0),
        "parallel apart"
    );
    assert!(
        !segments_overlap(h(0.0, 10.0, 5.0), ((5.0, 0.0), (5.0, 10.0)), 1.0),
        "crossing"
    );
    assert!(segments_overlap(
        ((0.0, 0.0), (10.0, 10.0)),
        ((5.0, 5.0), (20.0, 20.0)),
        1.0
    ));
    let pairs = overlapping_edges(
        &[
            vec![(0.0, 0.0), (0.0, 10.0), (10.0, 10.0)],
            vec![(5.0, 10.0), (5.0, 20.0)],
            vec![(8.0, 10.0), (20.0, 10.0)],
        ],
        1.0,
    );
    assert_eq!(pairs, vec![(0, 2)]);
}

#[test]
fn given_a_segment_when_checked_against_a_box_then_only_passing_through_counts() {
    let r = Rect {
        x: 10.0,
        y: 10.0,
        w: 20.0,
        h: 10.0,
    };
    assert!(segment_enters_rect((0.0, 15.0), (40.0, 15.0), &r, 1.0));
    assert!(segment_enters_rect((20.0, 0.0), (20.0, 12.0), &r, 1.0));
    assert!(
        !segment_enters_rect((20.0, 0.0), (20.0, 10.0), &r, 1.0),
        "ends on the border"
    );
    assert!(
        !segment_enters_rect((0.0, 25.0), (40.0, 25.0), &r, 1.0),
        "passes below"
    );
}

#[test]
fn given_targets_out_of_order_when_fitted_then_pooled_to_their_weighted_mean() {
    assert_eq!(
        isotonic(&[1.0, 3.0, 2.0], &[1.0, 1.0, 1.0]),
        vec![1.0, 2.5, 2.5]
    );
    assert_eq!(isotonic(&[4.0, 1.0], &[1.0, 3.0]), vec![1.75, 1.75]);
}
