//! The database examples end to end against real servers: `examples/sqlite/` with `sqlite3` and
//! `examples/postgres/` with `psql`, each exporting a table of 1,000,000 rows in id-range
//! partitions. Besides the examples' own `verify` job, each test checks on its own that the
//! partitions, joined in index order, are the table's rows in id order, byte for byte.
//!
//! Without `sqlite3` or a reachable PostgreSQL server (the PG* variables; `.ci/run` starts one
//! with `examples/postgres/server.sh`) a test is skipped with the reason printed, unless `CI`
//! is `true`: there a missing database is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::batchrun;

const ROWS: u64 = 1_000_000;

fn example(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(path).display().to_string()
}

/// Whether the test can go on; under `CI=true` a missing database fails it instead.
fn available(what: &str, check: Result<(), String>) -> bool {
    match check {
        Ok(()) => true,
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{what} is required under CI=true: {reason}")
        }
        Err(reason) => {
            crate::harness::skipped(&format!("{what} is not available here: {reason}"));
            false
        }
    }
}

fn succeeds(cmd: &mut Command) -> Result<Vec<u8>, String> {
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(out.stdout),
        Ok(out) => Err(format!("{cmd:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())),
        Err(e) => Err(format!("{cmd:?}: {e}")),
    }
}

/// The partitions `part-0.csv`, `part-1.csv`, … joined in index order.
fn joined_parts(out: &Path) -> (usize, Vec<u8>) {
    let mut joined = Vec::new();
    let mut parts = 0;
    while let Ok(bytes) = std::fs::read(out.join(format!("part-{parts}.csv"))) {
        joined.extend_from_slice(&bytes);
        parts += 1;
    }
    (parts, joined)
}

fn assert_export_is_the_table(out: &Path, table_dump: &[u8]) {
    let (parts, joined) = joined_parts(out);
    assert_eq!(parts, 10, "one file per partition");
    let rows = joined.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(rows, ROWS, "row count of the union of partitions");
    assert_eq!(joined.len(), table_dump.len());
    assert!(joined == table_dump, "the partitions differ from the table's rows in id order");
    // The manifest lists every partition, with the rows each one's verify counted.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_SUCCESS")).expect("a manifest")).expect("JSON");
    assert_eq!((manifest["tasks"].as_u64(), manifest["rows"].as_u64()), (Some(10), Some(ROWS)));
    assert_eq!(manifest["bytes"].as_u64(), Some(joined.len() as u64));
}

#[test]
fn sqlite_example_exports_a_million_rows_in_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("orders.db");
    let have_sqlite = succeeds(Command::new("sqlite3").arg("-version")).map(drop);
    if !available("sqlite3", have_sqlite) {
        return;
    }
    succeeds(Command::new(example("sqlite/make_db.sh")).arg(&db).arg(ROWS.to_string())).unwrap();

    let out = tmp.path().join("out");
    let ran = batchrun()
        .arg(&example("sqlite/export.yaml"))
        .args(&["--set", &format!("db={}", db.display()), "--set", &format!("out={}", out.display())])
        .args(&["--state-dir", &tmp.path().join("state").display().to_string(), "--progress", "plain"])
        .run();
    ran.success().stdout_has(&format!("verified: {ROWS} rows")).stderr_has("12 succeeded");

    let dump = succeeds(Command::new("sqlite3").arg("-csv").arg(&db).arg("select * from orders order by id")).unwrap();
    assert_export_is_the_table(&out, &dump);
}

/// On a fresh clone the sqlite example runs as it is: its first run creates the database.
#[test]
fn sqlite_example_runs_on_a_fresh_copy() {
    let have_sqlite = succeeds(Command::new("sqlite3").arg("-version")).map(drop);
    if !available("sqlite3", have_sqlite) {
        return;
    }
    let b = batchrun();
    for file in ["export.yaml", "make_db.sh", "verify.sh"] {
        let to = b.path().join(file);
        std::fs::copy(example(&format!("sqlite/{file}")), &to).unwrap();
    }
    let ran = b.args(&["export.yaml", "--progress", "plain"]).run();
    ran.success().stdout_has("verified: 1000000 rows").stderr_has("12 succeeded");
    assert!(ran.path("orders.db").exists());
}

/// The PG* variables as the test sees them, pointed at a database of the test's own.
fn postgres_env(database: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("PG")).collect();
    env.retain(|(k, _)| k != "PGDATABASE");
    env.push(("PGDATABASE".into(), database.into()));
    env
}

fn psql(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]).envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

#[test]
fn postgres_example_exports_a_million_rows_in_partitions() {
    let admin = postgres_env("postgres");
    let reachable = succeeds(psql(&admin).args(["-c", "select 1"])).map(drop);
    if !available("a PostgreSQL server (PGHOST, PGPORT, PGUSER)", reachable) {
        return;
    }
    // A database of its own, so the test never touches a table of the user's.
    let _ = psql(&admin).args(["-c", "create database batchrun_test"]).output();
    let env = postgres_env("batchrun_test");
    let made = Command::new(example("postgres/make_table.sh"))
        .arg(ROWS.to_string())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    let tmp = tempfile::tempdir().unwrap();
    let out: PathBuf = tmp.path().join("out");
    let mut run = batchrun()
        .arg(&example("postgres/export.yaml"))
        .args(&["--set", &format!("out={}", out.display())])
        .args(&["--state-dir", &tmp.path().join("state").display().to_string(), "--progress", "plain"]);
    for (k, v) in &env {
        run = run.env(k, v);
    }
    let ran = run.run();
    ran.success().stdout_has(&format!("verified: {ROWS} rows")).stderr_has("12 succeeded");

    let dump = succeeds(psql(&env).args(["-c", "\\copy (select * from orders order by id) to stdout csv"])).unwrap();
    assert_export_is_the_table(&out, &dump);
}

/// The lines of `bytes`, sorted: a table's rows or an export's, in an order both can share.
fn sorted_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    lines.sort_unstable();
    lines
}

/// Each export of the skewed table (`equal`, `balanced`) holds every row of `table` exactly
/// once, and its manifest counts them; returns each export's spread (the largest partition's
/// rows over the mean), as its manifest states them.
fn skewed_spreads(out: &Path, table: &[u8]) -> [f64; 2] {
    let expected = sorted_lines(table);
    assert_eq!(expected.len() as u64, ROWS);
    ["equal", "balanced"].map(|way| {
        let dir = out.join(way);
        let mut joined = Vec::new();
        for part in 0..8 {
            joined.extend(std::fs::read(dir.join(format!("part-{part}.csv"))).expect("8 partitions"));
        }
        let exported = sorted_lines(&joined);
        assert_eq!(exported.len(), expected.len(), "{way}: as many rows as the table");
        assert!(exported == expected, "{way}: a row is missing, or there twice");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("_SUCCESS")).expect("a manifest")).expect("JSON");
        assert_eq!(manifest["rows"].as_u64(), Some(ROWS), "{way}: the manifest counts every row");
        let rows: Vec<u64> =
            manifest["products"].as_array().unwrap().iter().map(|p| p["rows"].as_u64().unwrap()).collect();
        let mean = rows.iter().sum::<u64>() as f64 / rows.len() as f64;
        *rows.iter().max().unwrap() as f64 / mean
    })
}

/// A skewed table (90 % of its rows in 10 % of the id range, every dense id twice, NULL ids)
/// exported in equal-width and in row-balanced partitions: both hold every row exactly once,
/// and the balanced one's largest partition is within 1.1 of the mean.
#[test]
fn sqlite_skewed_table_exports_balanced_with_no_gap_or_overlap() {
    let have_sqlite = succeeds(Command::new("sqlite3").arg("-version")).map(drop);
    if !available("sqlite3", have_sqlite) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (db, out) = (tmp.path().join("skewed.db"), tmp.path().join("out"));
    let ran = batchrun()
        .arg(&example("sqlite/skewed.yaml"))
        .args(&["--set", &format!("db={}", db.display()), "--set", &format!("out={}", out.display())])
        .args(&["--state-dir", &tmp.path().join("state").display().to_string(), "--progress", "plain", "-j", "2"])
        .run();
    ran.success()
        .stdout_has("equal: every one of 1000000 rows exactly once")
        .stdout_has("balanced: every one of 1000000 rows exactly once")
        .stderr_has("18 succeeded");
    let dump = succeeds(Command::new("sqlite3").arg("-csv").arg(&db).arg("select id, payload from skewed")).unwrap();
    let [equal, balanced] = skewed_spreads(&out, &dump);
    assert!(balanced <= 1.1, "balanced spread {balanced}");
    assert!(equal > 5.0, "equal-width partitions are as skewed as the table: {equal}");
}

#[test]
fn postgres_skewed_table_exports_balanced_with_no_gap_or_overlap() {
    let admin = postgres_env("postgres");
    let reachable = succeeds(psql(&admin).args(["-c", "select 1"])).map(drop);
    if !available("a PostgreSQL server (PGHOST, PGPORT, PGUSER)", reachable) {
        return;
    }
    let _ = psql(&admin).args(["-c", "create database batchrun_skewed"]).output();
    let env = postgres_env("batchrun_skewed");
    // Made afresh, so that the table is the one the example's script makes today.
    succeeds(psql(&env).args(["-c", "drop table if exists skewed"])).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out: PathBuf = tmp.path().join("out");
    let mut run = batchrun()
        .arg(&example("postgres/skewed.yaml"))
        .args(&["--set", &format!("out={}", out.display())])
        .args(&["--state-dir", &tmp.path().join("state").display().to_string(), "--progress", "plain", "-j", "2"]);
    for (k, v) in &env {
        run = run.env(k, v);
    }
    let ran = run.run();
    ran.success()
        .stdout_has("equal: every one of 1000000 rows exactly once")
        .stdout_has("balanced: every one of 1000000 rows exactly once")
        .stderr_has("18 succeeded");
    let dump = succeeds(psql(&env).args(["-c", "\\copy (select id, payload from skewed) to stdout csv"])).unwrap();
    let [equal, balanced] = skewed_spreads(&out, &dump);
    assert!(balanced <= 1.1, "balanced spread {balanced}");
    assert!(equal > 5.0, "equal-width partitions are as skewed as the table: {equal}");
}
