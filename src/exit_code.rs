//! The documented exit statuses.

/// 0 every task succeeded · 1 one or more failed · 2 bad job file or usage (nothing ran) ·
/// 130 interrupted by SIGINT · 143 by SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    TasksFailed = 1,
    Usage = 2,
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> i32 {
        code as i32
    }
}
