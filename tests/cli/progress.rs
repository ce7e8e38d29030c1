//! Progress off a terminal: plain lines and no escape codes.

use crate::harness::batchrun;

const JOB: &str = "jobs:\n  p:\n    commands: ['true', 'false', 'echo hi']\n";

#[test]
fn not_a_terminal_means_plain_lines_without_escape_codes() {
    let ran = batchrun().job(JOB).run();
    ran.code(1);
    assert!(!ran.stderr.contains('\x1b') && !ran.stderr.contains('\r'), "escape codes: {:?}", ran.stderr);
    ran.stderr_has("ok p[0]").stderr_has("FAILED p[1] exit 1").stderr_has("ok p[2]");
    ran.stderr_has("Summary: 3 tasks: 2 succeeded, 1 failed, 0 skipped");
}

#[test]
fn ci_gets_plain_lines_even_when_asked_for_auto() {
    let ran = batchrun().job(JOB).env("CI", "true").args(&["--progress", "auto"]).run();
    ran.code(1);
    assert!(!ran.stderr.contains('\x1b'), "{:?}", ran.stderr);
    ran.stderr_has("ok p[0]");
}

#[test]
fn progress_none_prints_only_the_summary() {
    let ran = batchrun().job(JOB).args(&["--progress", "none"]).run();
    ran.code(1);
    assert!(!ran.stderr.contains("ok p[0]"), "{}", ran.stderr);
    ran.stderr_has("Summary:");
}

#[test]
fn the_summary_shows_each_failure_with_its_stderr() {
    let yaml = "jobs:\n  f:\n    command: sh -c 'echo first >&2; echo the reason >&2; exit 3'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.code(1).stderr_has("FAILED f: exit 3").stderr_has("stderr | the reason");
}

#[test]
fn a_missing_command_is_a_failed_task_not_a_crash() {
    let ran =
        batchrun().job("jobs:\n  m:\n    command: no-such-command-xyz arg\n").args(&["--progress", "plain"]).run();
    ran.code(1).stderr_has("not started: command not found: `no-such-command-xyz`");
}

/// On a real terminal (a pty from `script`, part of Debian's essential bsdutils), the bar is
/// drawn, task output still arrives whole, and the bars are cleared before the summary.
#[test]
fn a_terminal_gets_the_bar_and_the_output_above_it() {
    let b = crate::harness::batchrun().file(
        "job.yaml",
        "jobs:\n  t:\n    range: {from: 1, to: 6}\n    command: sh -c 'sleep 0.15; echo line-{{ start }}'\n",
    );
    let (success, screen) = on_a_terminal(b.path(), "-j 2", None);
    assert!(success, "{screen}");
    assert!(screen.contains('\x1b'), "no bar was drawn: {screen:?}");
    assert!(screen.contains("/6"), "the bar shows done/total: {screen:?}");
    for i in 1..=6 {
        assert!(screen.contains(&format!("line-{i}\r\n")), "output of task {i} is whole: {screen:?}");
    }
    assert!(without_colour(&screen).contains("Summary: 6 tasks: 6 succeeded"), "{screen:?}");
}

#[test]
fn color_always_colours_plain_lines_and_never_or_no_color_does_not() {
    let always = batchrun().job(JOB).args(&["--progress", "plain", "--color", "always"]).run();
    always.code(1);
    assert!(always.stderr.contains("\u{1b}[31m") && always.stderr.contains("FAILED"), "{:?}", always.stderr);
    let forced =
        batchrun().job(JOB).env("NO_COLOR", "").env("CLICOLOR_FORCE", "1").args(&["--progress", "plain"]).run();
    assert!(forced.stderr.contains('\u{1b}'), "CLICOLOR_FORCE colours a pipe: {:?}", forced.stderr);
    let never = batchrun().job(JOB).env("CLICOLOR_FORCE", "1").args(&["--progress", "plain", "--color", "never"]).run();
    assert!(!never.stderr.contains('\u{1b}'), "{:?}", never.stderr);
    let no_color =
        batchrun().job(JOB).env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1").args(&["--progress", "plain"]).run();
    assert!(!no_color.stderr.contains('\u{1b}'), "NO_COLOR wins in auto: {:?}", no_color.stderr);
}

/// `CI` set on a terminal: plain lines and no escape codes (colour included), as the README says;
/// and one task is one task, not "1 tasks".
#[test]
fn ci_on_a_terminal_prints_no_escape_codes_and_counts_in_words() {
    let b = batchrun().job("jobs:\n  t:\n    command: 'false'\n");
    let (_, screen) = on_a_terminal(b.path(), "", Some("true"));
    assert!(!screen.contains('\x1b'), "escape codes under CI: {screen:?}");
    assert!(screen.contains("1 task on 1 worker"), "{screen:?}");
    assert!(screen.contains("Summary: 1 task: 0 succeeded, 1 failed"), "{screen:?}");
}

/// A long run's plain log: every failure is shown, `ok` lines only for the first hundred tasks
/// that succeed, and it says so.
#[test]
fn a_long_plain_log_shows_every_failure_and_the_first_hundred_successes() {
    let yaml = "jobs:\n  t:\n    range: {from: 1, to: 600}\n    command: sh -c 'test $(( {{ start }} % 3 )) -ne 0'\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain", "-j", "4"]).run();
    ran.code(1);
    let ok = ran.stderr.lines().filter(|l| l.starts_with("ok ")).count();
    let failed = ran.stderr.lines().filter(|l| l.starts_with("FAILED t[")).count();
    assert_eq!((ok, failed), (100, 200), "{}", ran.stderr);
    ran.stderr_has("after 100 `ok` lines, tasks that succeed are counted in the progress line");
}

/// On a terminal, once a second has passed, the bar shows the throughput.
#[test]
fn the_bar_shows_the_throughput() {
    let b = crate::harness::batchrun()
        .file("job.yaml", "jobs:\n  t:\n    range: {from: 1, to: 12}\n    command: sh -c 'sleep 0.25'\n");
    let (success, screen) = on_a_terminal(b.path(), "-j 2", None);
    assert!(success, "{screen}");
    assert!(screen.contains(" tasks/s"), "no throughput in the bar: {screen:?}");
    assert!(without_colour(&screen).contains("Summary: 12 tasks: 12 succeeded"), "{screen:?}");
}

/// Runs `batchrun job.yaml ARGS` in `dir` on a pseudo-terminal (`script`, part of Debian's
/// essential bsdutils), with `CI` set to `ci` or unset; whether it succeeded, and the screen.
fn on_a_terminal(dir: &std::path::Path, args: &str, ci: Option<&str>) -> (bool, String) {
    let command = format!("{} job.yaml {args}", env!("CARGO_BIN_EXE_batchrun"));
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]).current_dir(dir).env_remove("NO_COLOR").env("TERM", "xterm");
    match ci {
        Some(value) => script.env("CI", value),
        None => script.env_remove("CI"),
    };
    let out = script.output().expect("script runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// On a terminal, the ETA is held back until the rate means something (3 s and 10 finished
/// tasks), and then it only counts down: tasks of one length give no jumps.
#[test]
fn the_eta_waits_for_a_steady_rate_and_then_counts_down() {
    let b = crate::harness::batchrun()
        .file("job.yaml", "jobs:\n  t:\n    range: {from: 1, to: 40}\n    command: sh -c 'sleep 0.2'\n");
    let (success, screen) = on_a_terminal(b.path(), "-j 2", None);
    assert!(success, "{screen}");
    let frames = bar_frames(&screen, 40);
    let early = frames.iter().filter(|f| f.elapsed >= 1.0 && f.elapsed < 3.0).count();
    assert!(early > 0, "no frame drawn in the run's first seconds: {screen:?}");
    let with_eta: Vec<&Frame> = frames.iter().filter(|f| f.eta.is_some()).collect();
    assert!(!with_eta.is_empty(), "no ETA was shown: {screen:?}");
    for f in &frames {
        if f.eta.is_some() {
            assert!(f.elapsed >= 3.0 && f.done >= 10, "an ETA too early: {f:?}");
        }
    }
    for pair in with_eta.windows(2) {
        let (before, after) = (pair[0].eta.unwrap_or_default(), pair[1].eta.unwrap_or_default());
        assert!(after <= before + 1.0, "the ETA jumped from {before} s to {after} s: {screen:?}");
    }
}

/// What one drawing of the overall bar said.
#[derive(Debug)]
struct Frame {
    done: u64,
    elapsed: f64,
    eta: Option<f64>,
}

/// Every drawing of the overall bar of a run of `total` tasks: `[==> ] 12/40 … 2.4s elapsed ·
/// ETA 1.3s`, split out of the terminal's bytes.
fn bar_frames(screen: &str, total: u64) -> Vec<Frame> {
    let seconds = |text: &str| -> Option<f64> {
        let text = text.trim();
        if let Some(ms) = text.strip_suffix("ms") {
            return ms.parse::<f64>().ok().map(|ms| ms / 1000.0);
        }
        text.strip_suffix('s')?.parse().ok()
    };
    let of_total = format!("/{total} ");
    screen
        .split(['\r', '\n', '\x1b'])
        .filter_map(|line| {
            let (before, after) = line.split_once(&of_total)?;
            let done = before.rsplit(' ').next()?.parse().ok()?;
            let (rest, eta) = match after.split_once(" elapsed") {
                Some((rest, tail)) => {
                    (rest, tail.split_once("ETA ").and_then(|(_, eta)| seconds(eta.split_whitespace().next()?)))
                }
                None => return None,
            };
            let elapsed = seconds(rest.rsplit(['·', ' ']).find(|w| !w.trim().is_empty())?)?;
            Some(Frame { done, elapsed, eta })
        })
        .collect()
}

/// Runs `batchrun ARGS` in `dir` on a pseudo-terminal, with `NO_COLOR` set or not; the screen.
fn terminal_screen(dir: &std::path::Path, args: &str, no_color: bool) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_batchrun"));
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]).current_dir(dir).env("TERM", "xterm").env_remove("CI");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    String::from_utf8_lossy(&script.output().expect("script runs").stdout).into_owned()
}

/// On a colour terminal the summary colours its counts, FAILED and FLAKY (a task that passed
/// on a retry), and `validate` colours its errors as rustc does; `NO_COLOR` turns both off.
#[test]
fn the_summary_and_validate_errors_are_coloured_on_a_terminal() {
    let yaml = "jobs:\n  t:\n    items: [a, b]\n    retries: 1\n    retry_delay: 0s\n    command: sh -c 'test \"$1\" = b && exit 1; test \"$BATCHRUN_ATTEMPT\" = 2' sh {{ item }}\n";
    let b = crate::harness::batchrun().file("job.yaml", yaml).file("bad.yaml", "jobs:\n  a:\n    comand: x\n");
    let (red, green, yellow) = ("\x1b[31m", "\x1b[32m", "\x1b[33m");
    let screen = terminal_screen(b.path(), "job.yaml", false);
    let summary = screen.lines().find(|l| l.contains("Summary")).unwrap_or_default();
    assert!(summary.contains(&format!("{green}1\x1b[0m succeeded")), "{summary:?}");
    assert!(summary.contains(&format!("{red}\x1b[1m1\x1b[0m failed")), "{summary:?}");
    assert!(summary.contains(" 0 skipped"), "a count of 0 stays plain: {summary:?}");
    assert!(screen.contains(&format!("  {red}\x1b[1mFAILED\x1b[0m t[b]: exit 1")), "{screen:?}");
    assert!(screen.contains(&format!("  {yellow}\x1b[1mFLAKY\x1b[0m t[a]: succeeded on attempt 2")), "{screen:?}");

    let errors = terminal_screen(b.path(), "validate bad.yaml", false);
    assert!(errors.contains(&format!("{red}\x1b[1merror\x1b[0m")), "{errors:?}");
    assert!(errors.contains("did you mean `command`?"), "{errors:?}");

    for args in ["job.yaml", "validate bad.yaml"] {
        let plain = terminal_screen(b.path(), args, true);
        let text: String = plain.lines().filter(|l| l.contains("Summary") || l.contains("error")).collect();
        assert!(!text.is_empty() && !text.contains('\x1b'), "NO_COLOR: {plain:?}");
    }
    let piped = b.args(&["job.yaml", "--progress", "none"]).run();
    piped.stderr_has("  FLAKY t[a]: succeeded on attempt 2");
}

/// `screen` without its colour codes (`ESC [ … m`).
fn without_colour(screen: &str) -> String {
    let mut out = String::with_capacity(screen.len());
    let mut rest = screen;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(end) if after[end..].starts_with('m') => rest = &after[end + 1..],
            _ => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs `batchrun ARGS` in `dir` on a pseudo-terminal `columns` wide; the screen, without
/// colour codes.
fn on_a_terminal_of(dir: &std::path::Path, args: &str, columns: u16) -> String {
    let command = format!("stty rows 24 cols {columns}; {} {args}", env!("CARGO_BIN_EXE_batchrun"));
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .output()
        .expect("script runs");
    without_colour(&String::from_utf8_lossy(&out.stdout))
}

/// Quick tasks first, then one slow task: the ETA is never less than half the time that was
/// really left (one run-wide rate said a tenth of a second with two seconds to go).
const SKEWED: &str = "jobs:\n  quick:\n    range: {from: 1, to: 40}\n    concurrency: 1\n    command: sh -c 'sleep 0.1'\n  slow:\n    command: sh -c 'sleep 6'\n";

#[test]
fn the_eta_stays_honest_when_tasks_differ_in_length() {
    let b = crate::harness::batchrun().file("job.yaml", SKEWED);
    let screen = on_a_terminal_of(b.path(), "job.yaml -j 2", 100);
    let total = screen
        .lines()
        .find_map(|l| l.split_once("Summary: 41 tasks: 41 succeeded, 0 failed, 0 skipped in ")?.1.split('s').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no summary: {screen:?}"));
    let frames = bar_frames(&screen, 41);
    let with_eta: Vec<&Frame> = frames.iter().filter(|f| f.eta.is_some()).collect();
    assert!(with_eta.len() > 5, "ETAs were shown: {frames:?}");
    for f in with_eta {
        let left = total - f.elapsed;
        let eta = f.eta.unwrap_or_default();
        assert!(eta >= left / 2.0 - 0.2, "ETA {eta} s with {left:.1} s left: {f:?}");
    }
}

/// On a terminal 50 columns wide no line of the display is wider than the terminal (the bar
/// narrows, the rate gives way before the counts and the ETA), and the first frame is no full
/// bar of 0/0.
#[test]
fn the_bar_fits_a_narrow_terminal_and_starts_empty() {
    let b = crate::harness::batchrun().file("job.yaml", SKEWED);
    let screen = on_a_terminal_of(b.path(), "job.yaml -j 2", 50);
    // Each drawing: the bar's line, then a line per running task (`▸ …`), each padded to the
    // terminal's width.
    let drawings: Vec<&str> =
        screen.split(['\r', '\n', '\x1b']).filter_map(|l| l.find("job [").map(|at| &l[at..])).collect();
    assert!(drawings.len() > 10, "the bar was drawn: {screen:?}");
    let mut drawn = Vec::new();
    for drawing in &drawings {
        let mut lines = drawing.split('▸');
        let bar = lines.next().unwrap_or_default().trim_end();
        assert!(console_width(bar) < 50, "wider than the terminal: {bar:?}");
        for running in lines {
            assert!(console_width(running.trim_end()) + 3 < 50, "wider than the terminal: {running:?}");
        }
        drawn.push(bar);
    }
    let first = drawn[0];
    assert!(!first.contains("0/0") && !first.contains("[==="), "the first frame: {first:?}");
    assert!(drawn.iter().any(|l| l.contains("ETA")), "the ETA is kept on a narrow terminal: {drawn:?}");
}

/// Characters on the screen (the bar's `▸` and `·` are one column each).
fn console_width(text: &str) -> usize {
    text.chars().count()
}
