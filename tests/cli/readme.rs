//! The README's samples: every fenced YAML sample either runs, as written, in a fresh empty
//! folder, or is marked as a fragment with the reason (`<!-- fragment: why -->` on the line
//! before it). A sample followed by a `console` block that runs it must print what that block
//! shows.

use crate::harness::Batchrun;

struct Sample {
    /// Its first line in the README (1-based).
    line: usize,
    yaml: String,
    fragment: Option<String>,
    /// The `console` block right after it, if any: its lines.
    shown: Option<Vec<String>>,
}

fn samples(readme: &str) -> Vec<Sample> {
    let lines: Vec<&str> = readme.lines().collect();
    let block = |from: usize| -> (Vec<String>, usize) {
        let end = (from..lines.len()).find(|&i| lines[i].starts_with("```")).unwrap_or(lines.len());
        (lines[from..end].iter().map(|l| l.to_string()).collect(), end)
    };
    let mut samples = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```yaml" {
            i += 1;
            continue;
        }
        let (yaml, end) = block(i + 1);
        let marker = i.checked_sub(1).map(|p| lines[p].trim()).unwrap_or_default();
        let fragment = marker
            .strip_prefix("<!-- fragment:")
            .and_then(|rest| rest.strip_suffix("-->"))
            .map(|why| why.trim().to_owned());
        // The next fenced block, when only prose stands between.
        let next = (end + 1..lines.len()).find(|&j| lines[j].starts_with("```"));
        let shown = next.filter(|&j| lines[j].trim_end() == "```console").map(|j| block(j + 1).0);
        samples.push(Sample { line: i + 1, yaml: yaml.join("\n") + "\n", fragment, shown });
        i = end + 1;
    }
    samples
}

#[test]
fn every_readme_sample_runs_or_says_why_it_is_a_fragment() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let samples = samples(&readme);
    assert!(samples.len() >= 5, "the README's samples were found: {}", samples.len());
    let mut ran = 0;
    for sample in &samples {
        if let Some(why) = &sample.fragment {
            assert!(why.len() > 10, "README.md:{}: a fragment says why it does not run", sample.line);
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("first.yaml"), &sample.yaml).unwrap();
        let run = Batchrun::in_dir(dir).args(&["first.yaml", "--progress", "none"]).run();
        assert_eq!(run.code, 0, "README.md:{}: the sample fails in an empty folder:\n{}", sample.line, run.stderr);
        ran += 1;
        let Some(shown) = &sample.shown else { continue };
        let command = shown.first().map(String::as_str).unwrap_or_default();
        assert_eq!(command, "$ batchrun first.yaml", "README.md:{}: the console block runs the sample", sample.line);
        // What it shows: its stdout up to the first blank line, then the summary.
        let stdout: Vec<&str> = shown[1..].iter().map(String::as_str).take_while(|l| !l.is_empty()).collect();
        assert_eq!(run.stdout.lines().collect::<Vec<_>>(), stdout, "README.md:{}: stdout as shown", sample.line);
        let summary = shown.iter().find(|l| l.starts_with("Summary:")).expect("the block shows the summary");
        let counts = summary.split(" in ").next().unwrap_or_default();
        assert!(run.stderr.contains(counts), "README.md:{}: {counts:?} in\n{}", sample.line, run.stderr);
    }
    assert!(ran >= 1, "at least the quickstart runs");
}
