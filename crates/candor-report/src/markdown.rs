//! `report.md`: the summary a person reads.

use std::fmt::Write;

use candor_core::MetricValue;

use crate::Report;

fn value(m: &MetricValue) -> String {
    match m.stderr {
        Some(se) => format!("{:.4} ± {:.4}", m.value, se),
        None => format!("{:.4}", m.value),
    }
}

/// Render a report as Markdown.
/// `--limit` as the run used it: a count, a share, and whether the documents were sampled.
fn limit(o: &candor_core::TaskOptions) -> String {
    let mut parts: Vec<String> = o.limit.iter().map(|l| l.to_string()).collect();
    parts.extend(o.limit_fraction.map(|f| format!("{f} of the documents")));
    let mut s = if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", at most ")
    };
    if let Some(seed) = o.sample_seed {
        s.push_str(&format!(" (sampled with seed {seed})"));
    }
    s
}

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.model;
    let _ = writeln!(s, "# candor report\n");
    if m.backend == "openai" {
        let _ = writeln!(
            s,
            "Model **{}** behind an OpenAI-compatible server (`{}`).\n",
            m.name, m.spec
        );
    } else {
        let _ = writeln!(
            s,
            "Model **{}** ({}, {:.1} M parameters, stored {}, run with {} weights), sha256 `{}`.\n",
            m.name,
            m.architecture,
            m.parameters as f64 / 1e6,
            m.quantization,
            m.weights,
            m.sha256
        );
    }
    for (key, value) in &m.details {
        let _ = writeln!(s, "- {key}: {value}");
    }
    if !m.details.is_empty() {
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "candor {} · suites {} · limit {} · seed {} · {} · {:.1} s ({:.1} s in the model)\n",
        r.harness.version,
        r.suites_requested.join(", "),
        limit(&r.config.task),
        r.config.task.seed,
        match r.environment.threads {
            0 => r.environment.device.clone(),
            n => format!("{} on {n} threads", r.environment.device),
        },
        r.timings.total_s,
        r.timings.model_s
    );
    if let Some(samples) = r.config.task.samples.filter(|&n| n > 1) {
        let _ = writeln!(
            s,
            "{samples} generations per prompt for code tasks (temperature 0.8, top-p 0.95).\n"
        );
    }
    match r.code_execution.as_deref() {
        Some("unisolated") => {
            let _ = writeln!(
                s,
                "**Model-written code ran on this machine without the sandbox's namespaces** \
                 (`--allow-unsandboxed-code`: rlimits, seccomp and a timeout only).\n"
            );
        }
        Some(how) => {
            let _ = writeln!(s, "Model-written code ran in candor's sandbox ({how}).\n");
        }
        None => {}
    }
    if !r.suites.is_empty() {
        let _ = writeln!(s, "## Suites (mean over their tasks)\n\n| suite | metric | value ± stderr | tasks |\n|---|---|---|---|");
        for suite in &r.suites {
            for metric in &suite.metrics {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    suite.name,
                    metric.name,
                    value(metric),
                    suite.tasks.len()
                );
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "## Tasks\n\n| task | languages | metric | value ± stderr | n |\n|---|---|---|---|---|"
    );
    for t in &r.tasks {
        for metric in &t.metrics {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                t.info.name,
                t.info.languages.join(", "),
                metric.name,
                value(metric),
                metric.n
            );
        }
    }
    for t in &r.tasks {
        for (key, groups) in &t.breakdowns {
            let _ = writeln!(
                s,
                "\n### {} by {key}\n\n| {key} | metric | value ± stderr | n |\n|---|---|---|---|",
                t.info.name
            );
            for (group, metrics) in groups {
                for metric in metrics {
                    let _ = writeln!(
                        s,
                        "| {group} | {} | {} | {} |",
                        metric.name,
                        value(metric),
                        metric.n
                    );
                }
            }
        }
    }
    s.push_str(&crate::safety::markdown(&r.safety));
    s.push_str(&crate::multilingual::markdown(&r.multilingual));
    let _ = writeln!(
        s,
        "\n## Data\n\n| dataset | licence | flags | files (sha256) |\n|---|---|---|---|"
    );
    for d in &r.datasets {
        let files: Vec<String> = d
            .files
            .iter()
            .map(|f| format!("`{}` ({}…)", f.path, &f.sha256[..12.min(f.sha256.len())]))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            d.name,
            d.license,
            d.flags.join(", "),
            files.join("<br>")
        );
    }
    s
}
