//! The documented exit statuses.

/// 0 every task succeeded · 1 one or more failed · 2 bad job file or usage (nothing ran) ·
/// 3 output or a report not delivered · 4 (`status`) a run is using the state folder now ·
/// 128 + N interrupted by signal N (129 for SIGHUP, 130 for SIGINT, 143 for SIGTERM). When
/// several apply, the first in this order wins: usage, interrupted, not delivered, tasks failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    TasksFailed,
    Usage,
    Undelivered,
    Running,
    Interrupted(i32),
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> i32 {
        match code {
            ExitCode::Success => 0,
            ExitCode::TasksFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Undelivered => 3,
            ExitCode::Running => 4,
            ExitCode::Interrupted(signal) => 128 + signal,
        }
    }
}
