//! Value syntaxes of the docker CLI that `run_args` may hold: byte sizes and cpu counts.

/// `512m`, `1g`, `1.5G`, `64k`, `100` (bytes), `2gb`: binary multiples, as `docker run -m`.
pub fn bytes(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let unitless = lower.trim_end_matches('b');
    let split = unitless
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unitless.len());
    let (num, unit) = unitless.split_at(split);
    let shift = match unit.trim() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(format!("invalid size '{text}'")),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid size '{text}'"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("invalid size '{text}'"));
    }
    Ok((n * (1u64 << shift) as f64) as i64)
}

/// `1.5` cpus → 1_500_000_000 nano cpus (`docker run --cpus`).
pub fn nano_cpus(text: &str) -> Result<i64, String> {
    let n: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid cpu count '{text}'"))?;
    if !n.is_finite() || n <= 0.0 {
        return Err(format!("invalid cpu count '{text}'"));
    }
    Ok((n * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("100"), Ok(100));
        assert_eq!(bytes("64k"), Ok(64 * 1024));
        assert_eq!(bytes("512m"), Ok(512 << 20));
        assert_eq!(bytes("512M"), Ok(512 << 20));
        assert_eq!(bytes("2gb"), Ok(2 << 30));
        assert_eq!(bytes("1.5g"), Ok(3 << 29));
        assert!(bytes("12x").is_err());
        assert!(bytes("").is_err());
        assert!(bytes("-1m").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("0.25"), Ok(250_000_000));
        assert!(nano_cpus("0").is_err());
        assert!(nano_cpus("two").is_err());
    }
}
