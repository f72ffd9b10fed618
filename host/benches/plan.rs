//! Planner speed (issue 3 target: a start of 10,000 resources in 100 subsets plans in
//! ≤ 100 ms). Plain std timing, no bench framework: `cargo bench -p svcmgr --bench plan`
//! prints the median of several runs of each case next to the target.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};
use svcmgr::plan::{self, PlanRes, Verb};

const RESOURCES: usize = 10_000;
const SUBSETS: usize = 100;
const RUNS: usize = 21;
const TARGET: Duration = Duration::from_millis(100);

/// One resource's names, which the planner's `PlanRes` borrows.
struct Names {
    rid: String,
    group: &'static str,
    subset: Option<String>,
    link: Option<String>,
}

/// 100 container subsets of 99 containers each, plus 100 ips each linked to the first
/// container of a subset (so links and expansion have work to do).
fn names() -> Vec<Names> {
    let per_subset = RESOURCES / SUBSETS - 1;
    let mut all = Vec::with_capacity(RESOURCES);
    let mut n = 0;
    for s in 0..SUBSETS {
        let first = n + 1;
        for _ in 0..per_subset {
            n += 1;
            all.push(Names {
                rid: format!("container#{n}"),
                group: "container",
                subset: Some(format!("{s:02}sub")),
                link: None,
            });
        }
        all.push(Names {
            rid: format!("ip#{s}"),
            group: "ip",
            subset: None,
            link: Some(format!("container#{first}")),
        });
    }
    assert_eq!(all.len(), RESOURCES);
    all
}

fn service(names: &[Names]) -> Vec<PlanRes<'_>> {
    names
        .iter()
        .map(|n| PlanRes {
            rid: &n.rid,
            group: n.group,
            subset: n.subset.as_deref(),
            links: n.link.as_deref().into_iter().collect(),
            ..Default::default()
        })
        .collect()
}

/// Every other subset runs in parallel.
fn parallel(_group: &str, subset: &str) -> bool {
    subset.as_bytes()[1] & 1 == 0
}

fn median(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn report(name: &str, d: Duration) {
    let verdict = if d <= TARGET { "ok" } else { "OVER TARGET" };
    println!(
        "{name:<48} median {:>8.2} ms   target <= {} ms   {verdict}",
        d.as_secs_f64() * 1e3,
        TARGET.as_millis()
    );
}

fn main() {
    let names = names();
    let all = service(&names);
    let full = median(|| {
        let p = plan::build(Verb::Start, None, black_box(&all), &parallel, None).unwrap();
        black_box(p);
    });
    report("plan start, 10000 resources / 100 subsets", full);

    // `start --rid container`: expansion pulls the 100 linked ips in, then plan.
    let containers: BTreeSet<String> = all
        .iter()
        .filter(|r| r.group == "container")
        .map(|r| r.rid.to_string())
        .collect();
    let scoped = median(|| {
        let mut sel = containers.clone();
        let added = plan::expand(Verb::Start, &mut sel, black_box(&all));
        assert_eq!(added.len(), SUBSETS);
        let p = plan::build(Verb::Start, Some(&sel), &all, &parallel, None).unwrap();
        black_box(p);
    });
    report("expand + plan start --rid container", scoped);

    let stop = median(|| {
        let p = plan::build(Verb::Stop, None, black_box(&all), &parallel, Some("ip")).unwrap();
        black_box(p);
    });
    report("plan stop --downto ip", stop);
}
