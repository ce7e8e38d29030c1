//! `--report run.html` in a real browser: Debian's chromium, headless. The page's script
//! records what it drew on `<body>` and writes any script error into `#errors`; the DOM dump
//! shows both, and what a link to a bar (`#task-N`) shows in its details. A screenshot must
//! not be blank.

use std::path::Path;
use std::process::Command;

use crate::harness::batchrun;

const JOB: &str = r#"
jobs:
  export:
    range: {from: 1, to: 40}
    retries: 1
    retry_delay: 0s
    command: sh -c "sleep 0.0{{ start % 7 }}; test {{ start }} -ne 13 || { echo 'FATAL - the cause'; echo 'bad <rows> & worse <!--<script>' >&2; exit 1; }"
  check:
    needs: [export]
    command: "true"
"#;

/// The browser, or `None` (with the test said to be skipped; under `CI=true` it fails).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is required under CI=true (.ci/run installs Debian's chromium)");
        }
        crate::harness::skipped("no chromium here (Debian's chromium package)");
    }
    found
}

fn headless(browser: &str, page: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

#[test]
fn the_html_report_draws_every_task_in_a_browser_without_a_script_error() {
    let Some(browser) = chromium() else { return };
    let ran = batchrun().job(JOB).args(&["-j", "4", "--report", "run.html", "--progress", "none"]).run();
    ran.code(1);
    let page = ran.path("run.html");
    let html = ran.read("run.html");
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from the network");

    let dom = headless(browser, &page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(r#"<pre id="errors"></pre>"#), "a script error: {dom}");
    assert!(dom.contains(r#"data-tasks="41""#) && dom.contains(r#"data-drawn="40""#), "{dom}");
    assert!(dom.contains(r#"data-attempts-drawn="1""#), "the retried attempt is drawn: {dom}");
    assert!(dom.contains(r#"data-lanes="4""#), "a lane per worker: {dom}");
    assert!(!dom.contains(r#"data-labelled="0""#), "bars are labelled where they fit: {dom}");
    assert!(
        dom.contains(r##"<a href="#task-12">export[12]</a>"##)
            && dom.contains("bad &lt;rows&gt; &amp; worse &lt;!--&lt;script&gt;"),
        "the failure, linked to its bar, and its stderr: {dom}"
    );
    assert!(dom.contains("<pre>command: sh -c"), "its command: {dom}");
    assert!(dom.contains("<div>stdout</div><pre>FATAL - the cause</pre>"), "its output excerpt: {dom}");
    let skipped = dom.split(r#"<div id="skipped">"#).nth(1).unwrap_or_default();
    assert!(
        skipped.starts_with(
            r#"<div class="skip"><strong>check</strong>: 1 task skipped: it needs `export`, which failed"#
        ),
        "{dom}"
    );

    // A link to a failure's bar selects it: its details show its output.
    let linked = ran.path("run.html");
    let dom = headless(browser, Path::new(&format!("{}#task-12", linked.display())), &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let details = dom.split(r#"<div id="details""#).nth(1).unwrap_or_default();
    assert!(details.contains(r#"data-selected="export[12]""#), "{dom}");
    assert!(details.contains("lane ") && details.contains("failed: exit 1"), "{details}");
    assert!(details.split("</div>\n").next().unwrap_or_default().contains("FATAL - the cause"), "{details}");

    let shot = ran.path("shot.png");
    headless(browser, &page, &[&format!("--screenshot={}", shot.display()), "--window-size=1200,900"]);
    let (width, height, inked) = inked_pixels(&shot);
    assert!(inked * 50 > width * height, "the screenshot is (nearly) blank: {inked} of {width}×{height} pixels");
}

/// The screenshot's size and how many of its pixels are not the white background.
fn inked_pixels(path: &Path) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("a screenshot")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels.chunks(channels).filter(|p| p.iter().take(3).any(|&c| c < 235)).count();
    (info.width as usize, info.height as usize, inked)
}

/// The HTML report's job table counts each job's committed products and their bytes.
#[test]
fn the_html_report_counts_each_job_s_products() {
    let Some(browser) = chromium() else { return };
    let yaml = "jobs:\n  p:\n    items: [ab, cde]\n    product: out/{{ index }}.txt\n    command: sh -c 'printf %s \"$2\" > \"$1\"' sh {{ product }} {{ item }}\n";
    let ran = batchrun().job(yaml).args(&["--report", "run.html", "--progress", "none"]).run();
    ran.success();
    let dom = headless(browser, &ran.path("run.html"), &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(r#"<pre id="errors"></pre>"#), "a script error: {dom}");
    assert!(dom.contains("<th>products</th>") && dom.contains("2 (5 bytes)"), "{dom}");
}

/// A matrix task's bar is labelled with its values: a link to it shows them in its details.
#[test]
fn a_bar_is_labelled_with_its_task_s_values() {
    let Some(browser) = chromium() else { return };
    let yaml = "jobs:\n  test:\n    matrix: {python: ['3.12'], db: [postgres, sqlite]}\n    command: sh -c 'test \"$1\" = postgres' sh {{ db }}\n";
    let ran = batchrun().job(yaml).args(&["--report", "run.html", "--progress", "none"]).run();
    ran.code(1);
    let page = format!("{}#task-1", ran.path("run.html").display());
    let dom = headless(browser, Path::new(&page), &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(r#"<pre id="errors"></pre>"#), "a script error: {dom}");
    assert!(dom.contains(r#"data-selected="test[python=3.12,db=sqlite]""#), "{dom}");
    assert!(dom.contains(r##"<a href="#task-1">test[python=3.12,db=sqlite]</a>"##), "{dom}");
}
