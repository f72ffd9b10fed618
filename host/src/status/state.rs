//! Resource and instance states, their merge table and instance aggregation
//! (reference notes §4.1–4.3).

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Up,
    Down,
    Warn,
    NA,
    Undef,
    StdbyUp,
    StdbyDown,
    /// Internal: standby up merged with up (prints `up`).
    StdbyUpWithUp,
    /// Internal: standby up merged with down (prints `stdby up`).
    StdbyUpWithDown,
}

use State::*;

impl State {
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "up" => Up,
            "down" => Down,
            "warn" => Warn,
            "n/a" => NA,
            "undef" => Undef,
            "stdby up" => StdbyUp,
            "stdby down" => StdbyDown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Up | StdbyUpWithUp => "up",
            Down => "down",
            Warn => "warn",
            NA => "n/a",
            Undef => "undef",
            StdbyUp | StdbyUpWithDown => "stdby up",
            StdbyDown => "stdby down",
        }
    }

    /// The `status` action's exit code.
    pub fn code(self) -> i32 {
        match self {
            Up | StdbyUpWithUp => 0,
            Down => 1,
            Warn => 2,
            NA => 3,
            Undef => 5,
            StdbyUp | StdbyUpWithDown => 6,
            StdbyDown => 7,
        }
    }

    /// What a standby resource reports for this driver state.
    pub fn as_standby(self) -> State {
        match self {
            Up => StdbyUp,
            Down => StdbyDown,
            other => other,
        }
    }

    fn index(self) -> Option<usize> {
        Some(match self {
            Up => 0,
            Down => 1,
            Warn => 2,
            NA => 3,
            StdbyUp => 4,
            StdbyDown => 5,
            StdbyUpWithUp => 6,
            StdbyUpWithDown => 7,
            Undef => return None,
        })
    }

    /// The commutative merge; `undef` is neutral.
    pub fn merge(self, other: State) -> State {
        const T: [[State; 8]; 8] = [
            [Up, Warn, Warn, Up, StdbyUpWithUp, Warn, StdbyUpWithUp, Warn],
            [
                Warn,
                Down,
                Warn,
                Down,
                StdbyUpWithDown,
                StdbyDown,
                Warn,
                StdbyUpWithDown,
            ],
            [Warn; 8],
            [
                Up,
                Down,
                Warn,
                NA,
                StdbyUp,
                StdbyDown,
                StdbyUpWithUp,
                StdbyUpWithDown,
            ],
            [
                StdbyUpWithUp,
                StdbyUpWithDown,
                Warn,
                StdbyUp,
                StdbyUp,
                Warn,
                StdbyUpWithUp,
                StdbyUpWithDown,
            ],
            [
                Warn, StdbyDown, Warn, StdbyDown, Warn, StdbyDown, Warn, Warn,
            ],
            [
                StdbyUpWithUp,
                Warn,
                Warn,
                StdbyUpWithUp,
                StdbyUpWithUp,
                Warn,
                StdbyUpWithUp,
                Warn,
            ],
            [
                Warn,
                StdbyUpWithDown,
                Warn,
                StdbyUpWithDown,
                StdbyUpWithDown,
                Warn,
                Warn,
                StdbyUpWithDown,
            ],
        ];
        match (self.index(), other.index()) {
            (Some(a), Some(b)) => T[a][b],
            (None, _) => other,
            (_, None) => self,
        }
    }
}

/// What aggregation needs to know of one resource.
pub struct Contribution<'a> {
    pub group: &'a str,
    pub status: State,
    pub optional: bool,
    pub disabled: bool,
    /// The resource has a warn or error status log line.
    pub has_alert: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub avail: State,
    pub optional: State,
    pub overall: State,
    pub groups: BTreeMap<String, State>,
}

/// Instance aggregation: optional resources feed `optional`, others `avail`; disabled ones
/// are ignored; alerts make `overall` warn.
pub fn aggregate<'a>(items: impl IntoIterator<Item = Contribution<'a>>) -> Aggregate {
    let mut agg = Aggregate {
        avail: NA,
        optional: NA,
        overall: NA,
        groups: BTreeMap::new(),
    };
    for c in items.into_iter().filter(|c| !c.disabled) {
        let g = agg.groups.entry(c.group.to_string()).or_insert(NA);
        *g = g.merge(c.status);
        if c.optional {
            agg.optional = agg.optional.merge(c.status);
        } else {
            agg.avail = agg.avail.merge(c.status);
        }
        if c.has_alert {
            agg.overall = agg.overall.merge(Warn);
        }
    }
    for acc in [&mut agg.avail, &mut agg.optional] {
        match *acc {
            StdbyUpWithUp => *acc = Up,
            StdbyUpWithDown => *acc = StdbyUp,
            _ => {}
        }
    }
    if agg.avail == Up {
        for g in agg.groups.values_mut().filter(|g| **g == StdbyUp) {
            *g = Up;
        }
    }
    agg.overall = agg.overall.merge(agg.avail).merge(agg.optional);
    agg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(group: &str, status: State) -> Contribution<'_> {
        Contribution {
            group,
            status,
            optional: false,
            disabled: false,
            has_alert: false,
        }
    }

    #[test]
    fn merge_is_commutative_and_undef_neutral() {
        let all = [
            Up,
            Down,
            Warn,
            NA,
            Undef,
            StdbyUp,
            StdbyDown,
            StdbyUpWithUp,
            StdbyUpWithDown,
        ];
        for a in all {
            for b in all {
                assert_eq!(a.merge(b), b.merge(a), "{a:?} {b:?}");
            }
            assert_eq!(a.merge(Undef), a);
        }
        assert_eq!(Up.merge(Down), Warn);
        assert_eq!(NA.merge(Down), Down);
        assert_eq!(StdbyUp.merge(Down), StdbyUpWithDown);
    }

    #[test]
    fn aggregation_examples() {
        let a = aggregate([c("app", Up), c("ip", Up)]);
        assert_eq!((a.avail, a.overall), (Up, Up));
        let a = aggregate([c("container", Down), c("fs", Up)]);
        assert_eq!((a.avail, a.overall), (Warn, Warn));
        let a = aggregate([c("container", Down), c("fs", Down)]);
        assert_eq!((a.avail, a.overall), (Down, Down));
        let mut opt = c("app", Down);
        opt.optional = true;
        let a = aggregate([c("app", Up), opt]);
        assert_eq!((a.avail, a.optional, a.overall), (Up, Down, Warn));
        let mut dis = c("app", Down);
        dis.disabled = true;
        assert_eq!(aggregate([c("app", Up), dis]).overall, Up);
        let mut alert = c("app", Up);
        alert.has_alert = true;
        assert_eq!(aggregate([alert]).overall, Warn);
        assert_eq!(aggregate([c("fs", StdbyUp), c("app", Down)]).avail, StdbyUp);
        assert_eq!(aggregate([c("fs", StdbyUp), c("app", Up)]).avail, Up);
        assert_eq!(aggregate(std::iter::empty()).overall, NA);
    }
}
