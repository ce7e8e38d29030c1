//! Declared products: a task's file appears under its final name only complete.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::batchrun;

/// Every file in `dir` (dot-files included), sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// A task that succeeds commits its product; one that fails, times out or writes none leaves
/// no file under the final name and no temporary, and says what it removed.
#[test]
fn only_a_succeeded_attempt_leaves_its_product() {
    let yaml = r#"
jobs:
  parts:
    items: [ok, fail, none, slow]
    product: out/p-{{ item }}.csv.gz
    timeout: 1s
    command: sh -c 'echo partial > "$1"; case $2 in fail) exit 1;; none) rm "$1";; slow) sleep 30;; esac' sh {{ product }} {{ item }}
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("FAILED parts[fail] exit 1")
        .stderr_has("FAILED parts[none] not done: it wrote no product")
        .stderr_has("FAILED parts[slow] timed out after 1s")
        .stderr_has("removed the unfinished product ")
        .stderr_has("(8 bytes) of this attempt");
    assert_eq!(files_in(&ran.path("out")), ["p-ok.csv.gz"], "no half-written file under any name");
    assert_eq!(ran.read("out/p-ok.csv.gz"), "partial\n");
    // The command wrote a dot-file beside the product, keeping its whole suffix.
    ran.stderr_has("out/.p-fail.batchrun-").stderr_has(".csv.gz");
}

/// The journal records the committed product, with its size.
#[test]
fn the_journal_records_each_committed_product() {
    let yaml = "jobs:\n  p:\n    range: {from: 1, to: 3}\n    product: out/{{ start }}.txt\n    command: sh -c 'seq {{ start }} > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    let journal = ran.read(".batchrun/job/journal.jsonl");
    let ends: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "end")
        .collect();
    assert_eq!(ends.len(), 3, "{journal}");
    for end in &ends {
        let start = end["index"].as_u64().unwrap() + 1;
        let path = end["product"]["path"].as_str().unwrap_or_default();
        assert!(path.ends_with(&format!("out/{start}.txt")), "{end}");
        let expected: usize = (1..=start).map(|n| n.to_string().len() + 1).sum();
        assert_eq!(end["product"]["bytes"], expected as u64, "{end}");
    }
}

/// Two tasks whose products land on one path: the second is refused, and the first's file
/// is the only one; a product that cannot differ between tasks is refused before anything runs.
#[test]
fn two_tasks_never_commit_one_path() {
    let yaml = "jobs:\n  p:\n    items: [a, a]\n    concurrency: 1\n    product: out/{{ item }}.txt\n    command: sh -c 'echo {{ index }} > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1)
        .stderr_has("another task of this run writes its product ")
        .stderr_has("give each task a path of its own");
    assert_eq!(ran.read("out/a.txt"), "0\n");

    let fixed = "jobs:\n  p:\n    items: [a, b]\n    product: out/all.txt\n    command: sh -c 'echo x > \"$1\"' sh {{ product }}\n";
    let refused = batchrun().file("job.yaml", fixed).args(&["validate", "job.yaml"]).run();
    refused.code(2).stderr_has("job `p`, product: every task would write `out/all.txt`").stderr_has("job.yaml:4:14");
    let hidden = "vars:\n  product: x\njobs:\n  p:\n    product: out/{{ index }}\n    command: 'true'\n";
    let refused = batchrun().file("job.yaml", hidden).args(&["validate", "job.yaml"]).run();
    refused.code(2).stderr_has("var `product` is hidden by the `product` each of its tasks writes");
}

/// batchrun killed with SIGKILL while a task writes its product: no file under the final
/// name, and the next run removes the temporary it left.
#[test]
fn a_killed_run_leaves_no_product_and_the_next_run_clears_its_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "jobs:\n  p:\n    product: out/big.csv\n    command: sh -c 'echo partial > \"$1\"; sleep 60' sh {{ product }}\n";
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = dir.path().join("out");
    let deadline = Instant::now() + Duration::from_secs(60);
    while files_in(&out).is_empty() {
        assert!(Instant::now() < deadline, "the task should start writing within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = files_in(&out);
    assert!(left.len() == 1 && left[0].starts_with(".big.batchrun-"), "only the temporary: {left:?}");

    std::fs::write(dir.path().join("job.yaml"), yaml.replace("sleep 60", "true")).unwrap();
    let again = crate::harness::Batchrun::in_dir(dir).args(&["job.yaml", "--progress", "none"]).run();
    again.success().stderr_has("removed 1 product that a stopped run left unfinished");
    assert_eq!(files_in(&again.path("out")), ["_SUCCESS", "big.csv"], "the product and its job's manifest");
}

/// `verify` runs after the command succeeded and before the commit: when it fails, the attempt
/// failed (and is retried), no product is committed, and the summary shows its stderr.
#[test]
fn a_failing_verify_is_retried_and_then_reported_with_no_product() {
    let yaml = r#"
jobs:
  p:
    items: [3, 5]
    retries: 1
    retry_delay: 0s
    product: out/{{ item }}.txt
    command: sh -c 'seq "$2" > "$1"; test "$2" -eq 5 && test "$BATCHRUN_ATTEMPT" = 1 && echo 1 > "$1"; true' sh {{ product }} {{ item }}
    verify: sh -c 'n=$(wc -l < "$1"); test "$n" -eq "$2" || { echo "$n rows, not $2" >&2; exit 1; }' sh {{ product }} {{ item }}
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.success().stderr_has("RETRY p[item=5] not done: verify failed (exit 1) (attempt 1)");
    assert_eq!(ran.read("out/5.txt").lines().count(), 5, "the retry's product was committed");

    let always = yaml.replace("test \"$BATCHRUN_ATTEMPT\" = 1 && ", "");
    let ran = batchrun().job(&always).args(&["--progress", "none"]).run();
    ran.code(1)
        .stderr_has("FAILED p[item=5]: not done: verify failed (exit 1) (2 attempts)")
        .stderr_has("stderr | verify | 1 rows, not 5");
    assert_eq!(files_in(&ran.path("out")), ["3.txt"], "a product that failed verify is never committed");
}

/// `--resume` trusts the product, not only the journal: a done task whose product was deleted
/// or changed since runs again, and `status` says which, exiting 1 until they are rebuilt.
#[test]
fn resume_rebuilds_a_product_that_was_deleted_or_changed() {
    let yaml = "jobs:\n  p:\n    range: {from: 1, to: 3}\n    concurrency: 1\n    product: out/{{ start }}.txt\n    command: sh -c 'echo {{ start }} >> runs; seq {{ start }} > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    std::fs::remove_file(ran.path("out/2.txt")).unwrap();
    std::fs::write(ran.path("out/3.txt"), "tampered\n").unwrap();
    let status = crate::harness::Batchrun::in_dir(ran.dir).args(&["status", "job.yaml"]).run();
    status
        .code(1)
        .stdout_has("p: 1 done task's product missing, 1 done task's product changed since: --resume runs them again");
    let resumed =
        crate::harness::Batchrun::in_dir(status.dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    resumed.success().stderr_has("2 succeeded, 0 failed, 0 skipped, 1 already done");
    let mut runs: Vec<String> = resumed.read("runs").lines().map(str::to_owned).collect();
    runs.sort();
    assert_eq!(runs, ["1", "2", "2", "3", "3"], "2 and 3 ran again, 1 did not");
    assert_eq!(resumed.read("out/3.txt"), "1\n2\n3\n");
    let status = crate::harness::Batchrun::in_dir(resumed.dir).args(&["status", "job.yaml"]).run();
    status.success();
    assert!(!status.stdout.contains("product"), "{}", status.stdout);
}

/// The JSON and JUnit reports name each task's committed product with its size.
#[test]
fn reports_name_each_committed_product_with_its_size() {
    let yaml = "jobs:\n  p:\n    items: [ab, cde]\n    product: out/{{ index }}.txt\n    command: sh -c 'printf %s \"$2\" > \"$1\"' sh {{ product }} {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none", "--report", "r.json", "--report", "r.xml"]).run();
    ran.success();
    let report: serde_json::Value = serde_json::from_str(&ran.read("r.json")).unwrap();
    let sizes: Vec<u64> =
        report["tasks"].as_array().unwrap().iter().map(|t| t["product"]["bytes"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [2, 3]);
    let xml = ran.read("r.xml");
    assert!(xml.contains(r#"<property name="product_bytes" value="3"/>"#), "{xml}");
    assert!(xml.contains("out/1.txt\"/>"), "{xml}");
}

/// The same path written another way is the same product; a product may not be the job file
/// or lie in the state folder; a temporary the task made a link or a folder is removed too.
#[test]
fn one_path_however_written_and_never_over_what_the_run_keeps() {
    let yaml = "jobs:\n  p:\n    items: [out/a.csv, out/./a.csv, ./out//a.csv]\n    concurrency: 1\n    product: \"{{ item }}\"\n    command: sh -c 'echo {{ index }} > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1).stderr_has("2 failed");
    assert_eq!(ran.read("out/a.csv"), "0\n", "the first task's product, never written over");

    for (product, why) in [("job.yaml", "is the job file"), (".batchrun/job/journal.jsonl", "is in the state folder")] {
        let yaml = format!(
            "jobs:\n  p:\n    product: {product}\n    command: sh -c 'echo clobbered > \"$1\"' sh {{{{ product }}}}\n"
        );
        let ran = batchrun().job(&yaml).args(&["--progress", "plain"]).run();
        ran.code(1).stderr_has(why);
        assert_eq!(ran.read("job.yaml"), yaml, "{product}: the job file is as written");
    }

    let yaml = "jobs:\n  p:\n    items: [link, dir]\n    product: out/{{ item }}.csv\n    command: sh -c 'if [ $2 = link ]; then ln -s /etc/hostname \"$1\"; else mkdir \"$1\"; fi' sh {{ product }} {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["--progress", "plain"]).run();
    ran.code(1).stderr_has("is not a regular file");
    assert!(files_in(&ran.path("out")).is_empty(), "{:?}", files_in(&ran.path("out")));
}

/// A second batchrun refused because a run holds the state folder removes none of that run's
/// temporaries: the running task commits its whole product.
#[test]
fn a_refused_second_run_leaves_the_first_run_s_products_alone() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "jobs:\n  slow:\n    product: out/a.csv\n    command: sh -c 'echo start > \"$1\"; while [ ! -e go ]; do sleep 0.05; done; echo end >> \"$1\"' sh {{ product }}\n  other:\n    command: 'true'\n";
    std::fs::write(dir.path().join("job.yaml"), yaml).unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_batchrun"))
        .current_dir(dir.path())
        .args(["job.yaml", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while files_in(&dir.path().join("out")).is_empty() {
        assert!(Instant::now() < deadline, "the task should start within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    for args in [&["job.yaml"][..], &["job.yaml", "--no-journal", "--only", "other"]] {
        let second = Command::new(env!("CARGO_BIN_EXE_batchrun")).current_dir(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert!(!stderr.contains("removed"), "{args:?}: {stderr}");
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    assert!(first.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(dir.path().join("out/a.csv")).unwrap(), "start\nend\n");
}

/// `verify` runs under the job's timeout: a check that hangs fails the attempt in time.
#[test]
fn a_hanging_verify_times_out() {
    let yaml = "jobs:\n  v:\n    timeout: 1s\n    product: out/v.csv\n    command: sh -c 'echo x > \"$1\"' sh {{ product }}\n    verify: sleep 30\n";
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.code(1).stderr_has("not done: verify timed out after 1s");
    assert!(ran.elapsed < Duration::from_secs(20), "{:?}", ran.elapsed);
    assert!(files_in(&ran.path("out")).is_empty());
}

/// When every task of a job has committed, its manifest (`_SUCCESS`) lists each product with
/// its size and the rows `verify` counted; a product rebuilt by `--resume` finds no manifest
/// while it is rebuilt, the manifest follows it, and the job that needs the products runs
/// again. A rebuild that fails leaves no manifest at all.
#[test]
fn the_manifest_follows_the_products_and_a_rebuild_reruns_what_needs_them() {
    let yaml = r#"
jobs:
  export:
    range: {from: 1, to: 30, chunks: 3}
    product: out/{{ index }}/part.csv
    command: sh -c 'test ! -e out/_SUCCESS && test ! -e out/{{ index }}/_SUCCESS && seq {{ start }} {{ end }} > "$1"' sh {{ product }}
    verify: "echo counting; wc -l < {{ product }}"
  check:
    needs: [export]
    command: sh -c 'echo checked >> checks'
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    let manifest = |ran: &crate::harness::Ran| -> serde_json::Value {
        serde_json::from_str(&ran.read("out/_SUCCESS")).expect("the manifest is JSON")
    };
    let first = manifest(&ran);
    assert_eq!(
        (first["job"].as_str(), first["tasks"].as_u64(), first["rows"].as_u64()),
        (Some("export"), Some(3), Some(30))
    );
    let paths: Vec<&str> = first["products"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["0/part.csv", "1/part.csv", "2/part.csv"], "in plan order, relative to the manifest");
    assert_eq!(first["products"][1]["bytes"], ran.read("out/1/part.csv").len() as u64);
    assert_eq!(ran.read("checks"), "checked\n");

    std::fs::remove_file(ran.path("out/1/part.csv")).unwrap();
    let resumed = crate::harness::Batchrun::in_dir(ran.dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    // The command refuses to run while a manifest stands: it ran, so the manifest was gone.
    resumed.success().stderr_has("2 succeeded, 0 failed, 0 skipped, 2 already done");
    assert_eq!(resumed.read("checks"), "checked\nchecked\n", "the check ran again on the rebuilt partition");
    assert_eq!(manifest(&resumed)["rows"], 30);

    // A rebuild that fails: no manifest stands beside the products.
    std::fs::remove_file(resumed.path("out/2/part.csv")).unwrap();
    let failing = yaml.replace("seq {{ start }} {{ end }}", "false");
    std::fs::write(resumed.path("job.yaml"), failing).unwrap();
    let failed = crate::harness::Batchrun::in_dir(resumed.dir).args(&["job.yaml", "--progress", "none"]).run();
    failed.code(1);
    assert!(!failed.path("out/_SUCCESS").exists(), "no manifest after a failed rebuild");
}

/// A job that runs again because a need was rebuilt does not trust its earlier results in a
/// later `--resume` either, when this one did not finish it: the journal records the rerun.
#[test]
fn a_rerun_for_a_rebuilt_need_outlasts_the_resume_that_started_it() {
    let yaml = r#"
jobs:
  export:
    items: [1, 2]
    product: out/{{ item }}.txt
    command: sh -c 'echo "$2" > "$1"' sh {{ product }} {{ item }}
  check:
    needs: [export]
    items: [a, b]
    command: sh -c 'test ! -e "broken-$1" && echo "$1" >> checks' sh {{ item }}
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    std::fs::remove_file(ran.path("out/1.txt")).unwrap();
    std::fs::write(ran.path("broken-a"), "").unwrap();
    let resumed =
        crate::harness::Batchrun::in_dir(ran.dir).args(&["job.yaml", "--resume", "--progress", "plain"]).run();
    resumed
        .code(1)
        .stderr_has("rerun check: its earlier results no longer count, as `export`, on which it depends, was rebuilt in this run")
        .stderr_has("2 succeeded, 1 failed, 0 skipped, 1 already done");
    let status = crate::harness::Batchrun::in_dir(resumed.dir).args(&["status", "job.yaml"]).run();
    status.code(1);
    std::fs::remove_file(status.path("broken-a")).unwrap();
    let again =
        crate::harness::Batchrun::in_dir(status.dir).args(&["job.yaml", "--resume", "--progress", "none"]).run();
    again.success().stderr_has("1 succeeded, 0 failed, 0 skipped, 3 already done");
    let mut checks: Vec<String> = again.read("checks").lines().map(str::to_owned).collect();
    checks.sort();
    assert_eq!(checks, ["a", "a", "b", "b"], "each ran again on the rebuilt export, check[a] once it could");
}

/// The rerun reaches the whole chain below a rebuilt product, at once: a job two steps down
/// is not trusted by a later `--resume` when the run that rebuilt the product stopped before
/// it, nor when that run was `--only` the product's job.
#[test]
fn a_rerun_reaches_the_whole_chain_below_a_rebuilt_product() {
    let yaml = r#"
jobs:
  a:
    product: out/a.txt
    command: sh -c 'echo a > "$1"' sh {{ product }}
  b:
    needs: [a]
    items: [1, 2]
    command: sh -c 'test ! -e "broken-$1" && echo "b$1" >> runs' sh {{ item }}
  c:
    needs: [b]
    command: sh -c 'echo c >> runs'
"#;
    let ran = batchrun().job(yaml).args(&["--progress", "none"]).run();
    ran.success();
    let resume = |dir, args: &[&str]| {
        crate::harness::Batchrun::in_dir(dir).args(&["job.yaml", "--resume", "--progress", "none"]).args(args).run()
    };
    // Rebuilt, and b fails: c is skipped, never run in that run.
    std::fs::remove_file(ran.path("out/a.txt")).unwrap();
    std::fs::write(ran.path("broken-1"), "").unwrap();
    let failed = resume(ran.dir, &[]);
    failed.code(1).stderr_has("1 skipped");
    std::fs::remove_file(failed.path("broken-1")).unwrap();
    let fixed = resume(failed.dir, &[]);
    fixed.success().stderr_has("2 succeeded, 0 failed, 0 skipped, 2 already done");
    assert_eq!(fixed.read("runs").lines().filter(|l| *l == "c").count(), 2, "c ran again: {}", fixed.read("runs"));

    // Rebuilt by a run of `a` alone: b and c no longer count their results either.
    std::fs::remove_file(fixed.path("out/a.txt")).unwrap();
    let only = resume(fixed.dir, &["--only", "a"]);
    only.success();
    let after = resume(only.dir, &[]);
    after.success().stderr_has("3 succeeded, 0 failed, 0 skipped, 1 already done");
}

/// Two jobs writing products into one folder would write one manifest: refused before the
/// run, where each job's first product shows it; `manifest:` names one apart.
#[test]
fn two_jobs_never_share_a_manifest() {
    let yaml = "jobs:\n  a:\n    items: [1, 2]\n    product: out/a{{ item }}\n    command: touch {{ product }}\n  b:\n    items: [1, 2]\n    product: out/b{{ item }}\n    command: touch {{ product }}\n";
    let refused = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    refused
        .code(2)
        .stderr_has("/out, so both would write the manifest _SUCCESS: give one of them `manifest:`")
        .stderr_has("job.yaml:8:14");
    let named = yaml.replace("    product: out/b", "    manifest: _b.SUCCESS\n    product: out/b");
    let ran = batchrun().job(&named).args(&["--progress", "none"]).run();
    ran.success();
    assert!(ran.read("out/_SUCCESS").contains("\"job\": \"a\""));
    assert!(ran.read("out/_b.SUCCESS").contains("\"job\": \"b\""));
    for (bad, why) in [("x/y", "takes a file name"), ("..", "takes a file name")] {
        let wrong = yaml.replace("    product: out/b", &format!("    manifest: '{bad}'\n    product: out/b"));
        let refused = batchrun().file("job.yaml", &wrong).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(&format!("job `b`: `manifest` {why}")).stderr_has("job.yaml:8:15");
    }
    let alone = "jobs:\n  a:\n    manifest: done\n    command: 'true'\n";
    batchrun()
        .file("job.yaml", alone)
        .args(&["validate", "job.yaml"])
        .run()
        .code(2)
        .stderr_has("`manifest` is the manifest of the job's products, and it declares no `product`");
}

/// A product that renders to a folder, or to a name too long for its temporary, is refused
/// before the run where the job file's data shows it, at its `product:`, and fails its task
/// alone where only the run's data does.
#[test]
fn a_product_that_cannot_be_a_file_is_refused() {
    let long = "x".repeat(240);
    for (product, why) in [
        ("out/{{ item }}/..".to_owned(), "product: `out/p/..` names a folder: a product is a file"),
        (
            format!("out/{long}{{{{ item }}}}.csv"),
            "its name is too long for the temporary beside it (264 bytes, over 255)",
        ),
    ] {
        let yaml = format!(
            "jobs:\n  a:\n    items: [p, q]\n    product: \"{product}\"\n    command: touch {{{{ product }}}}\n"
        );
        let refused = batchrun().file("job.yaml", &yaml).args(&["validate", "job.yaml"]).run();
        refused.code(2).stderr_has(why).stderr_has("job.yaml:4:14");
    }
    let from_file = "jobs:\n  a:\n    items: {file: names.txt}\n    product: \"out/{{ item }}\"\n    command: touch {{ product }}\n";
    let ran = batchrun().job(from_file).file("names.txt", "ok\n..\n").args(&["--progress", "plain"]).run();
    ran.code(1).stderr_has("ok a[ok]").stderr_has("FAILED a[..] not started: product: `out/..` names a folder");
}

/// The manifest never goes over a file that is not this job's manifest (a product of the
/// same name, another tool's `_SUCCESS`); the run says so and ends with 3. A job of no tasks
/// has no manifest to write. A job file named another way (`sub/../job.yaml`) is the same
/// owner, so a rebuild still removes its manifest.
#[test]
fn the_manifest_is_written_only_over_its_own() {
    let over_a_product = "jobs:\n  p:\n    items: [1, 2]\n    manifest: p1.txt\n    product: out/p{{ item }}.txt\n    command: sh -c 'echo data > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(over_a_product).args(&["--progress", "none"]).run();
    ran.code(3).stderr_has("out/p1.txt is there and is not this job's manifest");
    assert_eq!(ran.read("out/p1.txt"), "data\n", "the product stands");

    let foreign = "jobs:\n  p:\n    items: [1, 2]\n    product: out/p{{ item }}.txt\n    command: sh -c 'echo data > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(foreign).file("out/_SUCCESS", "").args(&["--progress", "none"]).run();
    ran.code(3).stderr_has("_SUCCESS is there and is not this job's manifest");
    assert_eq!(ran.read("out/_SUCCESS"), "", "another tool's marker is left as it was");

    let none =
        "jobs:\n  p:\n    items: {sh: 'true'}\n    product: out/p{{ item }}.txt\n    command: touch {{ product }}\n";
    batchrun().job(none).args(&["--progress", "none"]).run().success();

    let failing = "jobs:\n  p:\n    items: [1, 2]\n    product: out/p{{ item }}.txt\n    command: sh -c 'test ! -e FAIL && echo data > \"$1\"' sh {{ product }}\n";
    let ran = batchrun().job(failing).file("sub/.keep", "").args(&["--progress", "none"]).run();
    ran.success();
    assert!(ran.path("out/_SUCCESS").exists());
    std::fs::write(ran.path("FAIL"), "").unwrap();
    let again = crate::harness::Batchrun::in_dir(ran.dir).args(&["sub/../job.yaml", "--progress", "none"]).run();
    again.code(1);
    assert!(!again.path("out/_SUCCESS").exists(), "the rebuild removed it, however the job file was named");
}
