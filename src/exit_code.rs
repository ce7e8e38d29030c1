//! The documented exit statuses.

/// 0 every task succeeded · 1 one or more failed · 2 bad job file or usage (nothing ran) ·
/// 128 + N interrupted by signal N (130 for SIGINT, 143 for SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    TasksFailed,
    Usage,
    Interrupted(i32),
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> i32 {
        match code {
            ExitCode::Success => 0,
            ExitCode::TasksFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Interrupted(signal) => 128 + signal,
        }
    }
}
