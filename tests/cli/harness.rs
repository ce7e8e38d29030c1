//! A small fluent harness: write job files into a temporary folder, run the real binary on
//! them, and read what it did.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct Batchrun {
    dir: TempDir,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub dir: TempDir,
}

/// Says, where `cargo test` shows it, that the calling test did not check what it is for:
/// libtest hides what tests print unless they fail, and a test that returns early counts as
/// passed, so the line goes to the process's stderr itself. (Under `CI=true` such tests fail
/// instead.)
pub fn skipped(why: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Starts `batchrun job.yaml` in a fresh folder on a job whose one task says it started and
/// then waits, and returns once it has started: for tests that act while a run goes on. The
/// caller kills the child.
pub fn a_run_in_progress() -> (TempDir, std::process::Child) {
    let dir = tempfile::tempdir().expect("temp dir");
    let job = "jobs:\n  h:\n    command: sh -c 'touch started; sleep 1000'\n";
    std::fs::write(dir.path().join("job.yaml"), job).expect("job file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "--progress", "none"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("batchrun starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("started").exists() {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    (dir, child)
}

/// A fresh temporary folder to run batchrun in.
pub fn batchrun() -> Batchrun {
    Batchrun { dir: tempfile::tempdir().expect("temp dir"), args: Vec::new(), envs: Vec::new() }
}

impl Batchrun {
    /// Runs again in a folder a former run left (its files, journal and state).
    pub fn in_dir(dir: TempDir) -> Batchrun {
        Batchrun { dir, args: Vec::new(), envs: Vec::new() }
    }

    /// Writes `contents` to `name` in the folder (creating parent folders).
    pub fn file(self, name: &str, contents: &str) -> Self {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Writes a job file `job.yaml` and makes it the file to run.
    pub fn job(self, yaml: &str) -> Self {
        self.file("job.yaml", yaml).arg("job.yaml")
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(self) -> Ran {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_batchrun"));
        cmd.current_dir(self.dir.path())
            .args(&self.args)
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.timeout(Duration::from_secs(120));
        let started = Instant::now();
        let out = cmd.output().expect("batchrun runs");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
            dir: self.dir,
        }
    }
}

impl Ran {
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    pub fn success(&self) -> &Self {
        self.code(0)
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Stdout lines, sorted: for modes where completion order is up to the scheduler.
    pub fn sorted_stdout(&self) -> Vec<&str> {
        let mut lines = self.stdout_lines();
        lines.sort_unstable();
        lines
    }

    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n--- stderr\n{}", self.stderr);
        self
    }

    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n--- stdout\n{}", self.stdout);
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// The plan's JSON lines, parsed.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }
}
