//! `report.html`: one self-contained page a person reads at a glance, on a phone or a laptop.
//! Inline CSS, hand-rolled inline SVG charts and a small inline script for the sample
//! browser; no fonts, scripts or images from anywhere (its Content-Security-Policy forbids
//! them), so it opens offline and leaks nothing.

pub mod page;
pub mod samples;
pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;

use candor_core::{MetricValue, ScoredSample};

use crate::safety::Rate;
use crate::Report;
use page::esc;
use svg::{Cell, Interval};

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `value ± 1.96 · stderr`, kept inside [0, 1] for a proportion.
fn normal_ci(value: f64, stderr: Option<f64>) -> Option<(f64, f64)> {
    let se = stderr?;
    let (lo, hi) = (value - Z95 * se, value + Z95 * se);
    if (0.0..=1.0).contains(&value) {
        Some((lo.max(0.0), hi.min(1.0)))
    } else {
        Some((lo, hi))
    }
}

fn with_ci(value: f64, ci: Option<(f64, f64)>) -> String {
    match ci {
        Some((lo, hi)) => format!("{value:.3} [{lo:.3}, {hi:.3}]"),
        None => format!("{value:.3}"),
    }
}

/// Each task's metrics as interval charts, one chart per metric name.
fn tasks_section(r: &Report, s: &mut String) {
    let mut by_metric: BTreeMap<&str, Vec<(&str, &MetricValue)>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for t in &r.tasks {
        for m in &t.metrics {
            if !order.contains(&m.name.as_str()) {
                order.push(&m.name);
            }
            by_metric
                .entry(&m.name)
                .or_default()
                .push((&t.info.name, m));
        }
    }
    let _ = write!(
        s,
        "<h2 id=\"tasks\">Scores by task</h2><p class=\"muted\">Dots are scores, lines 95 % \
         intervals (value ± 1.96 standard errors).</p>"
    );
    for metric in order {
        let rows: Vec<Interval> = by_metric[metric]
            .iter()
            .map(|(task, m)| {
                let ci = normal_ci(m.value, m.stderr);
                Interval {
                    label: task.to_string(),
                    value: m.value,
                    ci,
                    note: format!("{:.3} (n={})", m.value, m.n),
                }
            })
            .collect();
        let direction = match crate::direction::better(metric) {
            Some(crate::direction::Better::Higher) => " (higher is better)",
            Some(crate::direction::Better::Lower) => " (lower is better)",
            None => "",
        };
        let _ = write!(
            s,
            "<figure><h3>{}{direction}</h3>{}</figure>",
            esc(metric),
            svg::intervals(&rows, 150.0, None)
        );
    }
    let _ = write!(
        s,
        "<div class=\"scroll\"><table><tr><th>task</th><th>languages</th><th>metric</th>\
         <th>value [95 % interval]</th><th>n</th></tr>"
    );
    for t in &r.tasks {
        for m in &t.metrics {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>",
                esc(&t.info.name),
                esc(&t.info.languages.join(", ")),
                esc(&m.name),
                with_ci(m.value, normal_ci(m.value, m.stderr)),
                m.n
            );
        }
    }
    s.push_str("</table></div>");
}

/// Per-language scores of each multilingual suite, with the gap to English.
fn multilingual_section(r: &Report, s: &mut String) {
    let m = &r.multilingual;
    if m.languages.is_empty() && m.fertility.is_empty() {
        return;
    }
    let _ = write!(s, "<h2 id=\"languages\">Languages</h2>");
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for l in &m.languages {
        if !groups.contains(&(l.suite.as_str(), l.metric.as_str())) {
            groups.push((&l.suite, &l.metric));
        }
    }
    for (suite, metric) in groups {
        let scores: Vec<_> = m
            .languages
            .iter()
            .filter(|l| l.suite == suite && l.metric == metric)
            .collect();
        let rows: Vec<Interval> = scores
            .iter()
            .map(|l| Interval {
                label: format!("{} ({})", l.language, l.task),
                value: l.value,
                ci: normal_ci(l.value, l.stderr),
                note: match l.gap_to_reference {
                    Some(g) if l.language != l.reference_language => {
                        format!("{:.3} ({g:+.3} vs {})", l.value, l.reference_language)
                    }
                    _ => format!("{:.3}", l.value),
                },
            })
            .collect();
        let reference = scores
            .iter()
            .find(|l| l.language == l.reference_language)
            .map(|l| (l.value, l.reference_language.as_str()));
        let _ = write!(
            s,
            "<figure><h3>{} · {}</h3>{}<figcaption>{}</figcaption></figure>",
            esc(suite),
            esc(metric),
            svg::intervals(&rows, 190.0, reference),
            match reference {
                Some((_, lang)) => format!(
                    "The dashed line is the score in {}, the suite's reference language; the note gives each language's gap to it.",
                    esc(lang)
                ),
                None => "No task in the suite's reference language, so no gaps.".to_string(),
            }
        );
    }
    if !m.fertility.is_empty() {
        let _ = write!(
            s,
            "<h3>Tokenizer fertility</h3><div class=\"scroll\"><table><tr><th>language</th>\
             <th>prompts</th><th>tokens/word</th><th>tokens/byte</th></tr>"
        );
        for f in &m.fertility {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td>\
                 <td class=\"num\">{:.3}</td></tr>",
                esc(&f.language),
                f.texts,
                f.tokens_per_word,
                f.tokens_per_byte
            );
        }
        s.push_str("</table></div>");
    }
}

fn rate_cell(rate: &Option<Rate>) -> Cell {
    match rate {
        Some(r) => Cell {
            rate: Some(r.rate),
            lines: [
                format!("{:.2}", r.rate),
                format!("[{:.2}, {:.2}] {}/{}", r.ci_low, r.ci_high, r.count, r.n),
            ],
        },
        None => Cell {
            rate: None,
            lines: ["–".into(), String::new()],
        },
    }
}

/// The safety × language heatmap and unsafe compliance per hazard.
fn safety_section(r: &Report, s: &mut String) {
    let safety = &r.safety;
    if safety.languages.is_empty() && safety.hazards.is_empty() && safety.code.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<h2 id=\"safety\">Safety</h2><p class=\"muted\">Shares with 95 % Wilson intervals \
         (count/n), pooled over the tasks of the run; darker is worse.</p>"
    );
    if !safety.languages.is_empty() {
        let rows: Vec<(String, Vec<Cell>)> = safety
            .languages
            .iter()
            .map(|l| {
                (
                    l.language.clone(),
                    vec![rate_cell(&l.unsafe_compliance), rate_cell(&l.over_refusal)],
                )
            })
            .collect();
        let _ = write!(
            s,
            "<figure><h3>Safety × language</h3>{}<figcaption>Unsafe compliance: harmful \
             prompts the model complied with. Over-refusal: safe prompts it refused.\
             </figcaption></figure>",
            svg::heatmap(&["unsafe compliance", "over-refusal"], &rows)
        );
    }
    if !safety.hazards.is_empty() {
        let rows: Vec<Interval> = safety
            .hazards
            .iter()
            .map(|h| {
                let u = &h.unsafe_compliance;
                Interval {
                    label: h
                        .hazard
                        .parse::<candor_safety::Hazard>()
                        .map_or_else(|_| h.hazard.clone(), |z| z.to_string()),
                    value: u.rate,
                    ci: Some((u.ci_low, u.ci_high)),
                    note: format!("{:.2} ({}/{})", u.rate, u.count, u.n),
                }
            })
            .collect();
        let _ = write!(
            s,
            "<figure><h3>Unsafe compliance by hazard (MLCommons S1–S14)</h3>{}</figure>",
            svg::intervals(&rows, 230.0, None)
        );
    }
    for (title, rows) in [
        ("programming language", &safety.code.languages),
        ("CWE", &safety.code.cwes),
    ] {
        if rows.is_empty() {
            continue;
        }
        let rows: Vec<Interval> = rows
            .iter()
            .map(|row| {
                let u = &row.insecure_code;
                Interval {
                    label: row.group.clone(),
                    value: u.rate,
                    ci: Some((u.ci_low, u.ci_high)),
                    note: format!("{:.2} ({}/{})", u.rate, u.count, u.n),
                }
            })
            .collect();
        let _ = write!(
            s,
            "<figure><h3>Code security by {title}</h3>{}<figcaption>Generations whose code an \
             insecure-code rule flags.</figcaption></figure>",
            svg::intervals(&rows, 230.0, None)
        );
    }
}

fn kv(s: &mut String, key: &str, value: &str) {
    let _ = write!(s, "<tr><th>{}</th><td>{value}</td></tr>", esc(key));
}

/// The run's identity: model, data, configuration, environment.
fn identity_section(r: &Report, s: &mut String) {
    let m = &r.model;
    let _ = write!(
        s,
        "<h2 id=\"identity\">Run identity</h2><h3>Model</h3><div class=\"scroll\"><table>"
    );
    kv(s, "name", &esc(&m.name));
    kv(s, "asked for", &esc(&m.spec));
    kv(
        s,
        "file",
        &format!("<code class=\"hash\">{}</code>", esc(&m.path)),
    );
    kv(
        s,
        "sha256",
        &format!("<code class=\"hash\">{}</code>", esc(&m.sha256)),
    );
    kv(s, "architecture", &esc(&m.architecture));
    kv(
        s,
        "parameters",
        &format!("{:.1} M", m.parameters as f64 / 1e6),
    );
    kv(s, "stored as", &esc(&m.quantization));
    kv(s, "weights in memory", &esc(&m.weights));
    kv(s, "context length", &m.context_length.to_string());
    for (key, value) in &m.details {
        kv(s, &key.replace('_', " "), &esc(value));
    }
    if let Some(how) = &r.code_execution {
        let where_ = if how == "unisolated" {
            "on this machine, without the sandbox's namespaces (--allow-unsandboxed-code)"
        } else {
            "in candor's sandbox"
        };
        kv(
            s,
            "model-written code ran",
            &format!("{where_} ({})", esc(how)),
        );
    }
    s.push_str(
        "</table></div><h3>Data</h3><div class=\"scroll\"><table><tr><th>dataset</th>\
                <th>licence</th><th>flags</th><th>files (sha256)</th></tr>",
    );
    for d in &r.datasets {
        let files: Vec<String> = d
            .files
            .iter()
            .map(|f| {
                format!(
                    "{} <code class=\"hash\">{}</code>",
                    esc(&f.path),
                    esc(&f.sha256)
                )
            })
            .collect();
        let _ = write!(
            s,
            "<tr><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            esc(&d.name),
            esc(&d.source),
            esc(&d.license),
            esc(&d.flags.join(", ")),
            files.join("<br>")
        );
    }
    let config = serde_json::to_string_pretty(&r.config).unwrap_or_default();
    let _ = write!(
        s,
        "</table></div><h3>Configuration</h3><p>seed <b>{}</b> · suites {}</p><pre>{}</pre>",
        r.config.task.seed,
        esc(&r.suites_requested.join(", ")),
        esc(&config)
    );
    let e = &r.environment;
    let t = &r.timings;
    let _ = write!(s, "<h3>Environment</h3><div class=\"scroll\"><table>");
    kv(
        s,
        "harness",
        &esc(&format!("{} {}", r.harness.name, r.harness.version)),
    );
    kv(s, "written", &page::utc(r.created_unix));
    kv(s, "system", &esc(&format!("{} {}", e.os, e.arch)));
    kv(s, "device", &esc(&e.device));
    kv(s, "threads", &format!("{} of {} CPUs", e.threads, e.cpus));
    kv(
        s,
        "time",
        &format!(
            "{:.1} s in all: {:.1} s loading, {:.1} s in the model, {:.1} s harness",
            t.total_s, t.load_s, t.model_s, t.harness_s
        ),
    );
    kv(
        s,
        "requests",
        &format!("{} ({} unique)", t.requests, t.unique_requests),
    );
    s.push_str("</table></div>");
}

/// Render `report.html` for a report and its samples.
pub fn report(r: &Report, samples: &[ScoredSample]) -> String {
    let mut s = String::new();
    let m = &r.model;
    let _ = write!(
        s,
        "<header><h1>candor report: {}</h1><p class=\"muted\">{} · {:.1} M parameters · {} \
         weights · {} · sha256 <code class=\"hash\">{}</code></p></header>",
        esc(&m.name),
        esc(&m.architecture),
        m.parameters as f64 / 1e6,
        esc(&m.weights),
        page::utc(r.created_unix),
        esc(m.sha256.get(..16).unwrap_or(&m.sha256)),
    );
    s.push_str("<nav><a href=\"#tasks\">tasks</a>");
    if !r.multilingual.languages.is_empty() || !r.multilingual.fertility.is_empty() {
        s.push_str("<a href=\"#languages\">languages</a>");
    }
    if !r.safety.languages.is_empty() || !r.safety.hazards.is_empty() {
        s.push_str("<a href=\"#safety\">safety</a>");
    }
    s.push_str("<a href=\"#identity\">run identity</a><a href=\"#browser\">samples</a></nav>");
    if !r.suites.is_empty() {
        s.push_str("<div class=\"cards\">");
        for suite in &r.suites {
            for metric in &suite.metrics {
                let _ = write!(
                    s,
                    "<div class=\"card\"><span class=\"muted\">{} · {}</span><b>{}</b>\
                     <span class=\"muted\">{} task(s)</span></div>",
                    esc(&suite.name),
                    esc(&metric.name),
                    with_ci(metric.value, normal_ci(metric.value, metric.stderr)),
                    suite.tasks.len()
                );
            }
        }
        s.push_str("</div>");
    }
    tasks_section(r, &mut s);
    multilingual_section(r, &mut s);
    safety_section(r, &mut s);
    identity_section(r, &mut s);
    let _ = write!(
        s,
        "<h2 id=\"browser\">Samples</h2><p class=\"muted\">Texts longer than {} characters are \
         cut; samples.jsonl holds them whole.</p>{}<script type=\"application/json\" \
         id=\"sample-data\">{}</script>",
        samples::MAX_TEXT,
        samples::MARKUP,
        page::script_json(&samples::data(r, samples))
    );
    page::document(
        &format!("candor report: {}", m.name),
        &s,
        Some(samples::SCRIPT),
    )
}
