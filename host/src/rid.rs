//! Resource ids (`container#1`, `vg#2`, `app#web`) and their natural order.

use std::cmp::Ordering;

/// The text before `#` (`container` in `container#1`).
pub fn prefix(rid: &str) -> &str {
    rid.split_once('#').map(|(p, _)| p).unwrap_or(rid)
}

/// The text after `#` (`1` in `container#1`).
pub fn index(rid: &str) -> &str {
    rid.split_once('#').map(|(_, i)| i).unwrap_or("")
}

/// Why `rid` cannot be a resource id. A rid is `<group>#<name>`: the group of ASCII letters,
/// digits and `_`; the name of ASCII letters, digits, `_`, `-` and `.`, starting with a
/// letter, a digit or `_`. Drivers join it to paths (`<var>/<rid>/`): it is always one plain
/// path component, never `..`, a hidden name or an option-like word.
pub fn check(rid: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "invalid resource id '{}': {why}",
            rid.escape_debug()
        ))
    };
    let Some((group, name)) = rid.split_once('#') else {
        return bad("not <group>#<name>");
    };
    if group.is_empty() || !group.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("the group is made of letters, digits and '_'");
    }
    match name.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {}
        _ => return bad("the name starts with a letter, a digit or '_'"),
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("the name is made of letters, digits, '_', '-' and '.'");
    }
    Ok(())
}

/// Natural order: digit runs compare by value, so `container#2` < `container#10`; of two
/// runs of one value, the one with fewer leading zeros comes first.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    // Indices rather than iterator chains: sorting 10,000 rids makes ~130,000 calls.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // Sorting rids compares many that share a prefix (`app#12` and `app#13`): skip it, back to
    // the start of the digit run it ends in, if any.
    let mut same = 0;
    while same < a.len() && same < b.len() && a[same] == b[same] {
        same += 1;
    }
    while same > 0 && a[same - 1].is_ascii_digit() {
        same -= 1;
    }
    let (mut i, mut j) = (same, same);
    loop {
        let (x, y) = match (a.get(i), b.get(j)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(&x), Some(&y)) => (x, y),
        };
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let (ea, eb) = (digits_end(a, i), digits_end(b, j));
            let (sa, sb) = (significant(a, i, ea), significant(b, j, eb));
            let ord = (ea - sa)
                .cmp(&(eb - sb))
                .then_with(|| a[sa..ea].cmp(&b[sb..eb]))
                .then((ea - i).cmp(&(eb - j)));
            if ord != Ordering::Equal {
                return ord;
            }
            (i, j) = (ea, eb);
        } else if x != y {
            return x.cmp(&y);
        } else {
            (i, j) = (i + 1, j + 1);
        }
    }
}

/// The end of the digit run of `s` starting at `from`.
fn digits_end(s: &[u8], from: usize) -> usize {
    let mut end = from;
    while end < s.len() && s[end].is_ascii_digit() {
        end += 1;
    }
    end
}

/// Where the value of the digit run `from..end` starts: past its leading zeros, keeping one
/// digit.
fn significant(s: &[u8], from: usize, end: usize) -> usize {
    let mut start = from;
    while start + 1 < end && s[start] == b'0' {
        start += 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec![
            "container#10",
            "container#2",
            "container#1",
            "app#web",
            "app#02",
            "app#1",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "app#1",
                "app#02",
                "app#web",
                "container#1",
                "container#2",
                "container#10"
            ]
        );
        assert_eq!(natural_cmp("app#19", "app#100"), Ordering::Less);
        assert_eq!(natural_cmp("app#100", "app#19"), Ordering::Greater);
        assert_eq!(natural_cmp("app#010", "app#10"), Ordering::Greater);
        assert_eq!(natural_cmp("a1b2", "a1b10"), Ordering::Less);
        assert_eq!(natural_cmp("app#7", "app#7"), Ordering::Equal);
        assert_eq!(natural_cmp("app#0", "app#00"), Ordering::Less);
        assert_eq!(natural_cmp("app#", "app#0"), Ordering::Less);
        assert_eq!(natural_cmp("a10b", "a9c"), Ordering::Greater);
        assert_eq!(natural_cmp("x#1!", "x#1"), Ordering::Greater);
        assert_eq!(natural_cmp("ip#1a", "ip#1b"), Ordering::Less);
    }

    #[test]
    fn rid_grammar() {
        for ok in ["app#1", "container#web-1.a", "vg#_x", "fs#01"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "app#../../x",
            "app#",
            "#1",
            "app#-x",
            "app#.x",
            "app#a/b",
            "a b#1",
            "app#x\u{1b}",
            "app",
            "app#1#2",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parts() {
        assert_eq!(prefix("vg#1"), "vg");
        assert_eq!(index("app#web"), "web");
    }
}
