//! OCF exit codes and what they mean, for status and error messages.

pub const SUCCESS: i32 = 0;
pub const NOT_RUNNING: i32 = 7;

/// `OCF_ERR_CONFIGURED (misconfigured)`: the name and meaning of an agent's exit code.
pub fn describe(code: i32) -> String {
    let (name, meaning) = match code {
        0 => ("OCF_SUCCESS", "success"),
        1 => ("OCF_ERR_GENERIC", "generic error"),
        2 => ("OCF_ERR_ARGS", "invalid arguments"),
        3 => ("OCF_ERR_UNIMPLEMENTED", "action not implemented"),
        4 => ("OCF_ERR_PERM", "insufficient privileges"),
        5 => ("OCF_ERR_INSTALLED", "a required component is not installed"),
        6 => ("OCF_ERR_CONFIGURED", "misconfigured"),
        7 => ("OCF_NOT_RUNNING", "not running"),
        8 => ("OCF_RUNNING_PROMOTED", "running promoted"),
        9 => ("OCF_FAILED_PROMOTED", "failed while promoted"),
        190 => ("OCF_DEGRADED", "running degraded"),
        191 => ("OCF_DEGRADED_PROMOTED", "running promoted, degraded"),
        // The SDK reports a command killed by a signal as 128 + the signal number.
        129..=159 => return format!("killed by signal {}", code - 128),
        _ => return format!("exit code {code}, not an OCF code"),
    };
    format!("{name} ({meaning})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_meanings() {
        assert_eq!(describe(6), "OCF_ERR_CONFIGURED (misconfigured)");
        assert_eq!(describe(7), "OCF_NOT_RUNNING (not running)");
        assert_eq!(describe(190), "OCF_DEGRADED (running degraded)");
        assert_eq!(describe(137), "killed by signal 9");
        assert_eq!(describe(42), "exit code 42, not an OCF code");
    }
}
