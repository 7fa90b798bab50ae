//! A comparison as Markdown (for a terminal or a pull request) and as a self-contained HTML
//! page in the style of report.html.

use std::fmt::Write;

use super::{Comparison, Difference, RunSide, Test, Verdict};
use crate::html::page::{document, esc};
use crate::html::svg::{self, Interval};

fn test_name(d: &Difference) -> String {
    match d.test {
        Test::McNemar { a_only, b_only } => format!("McNemar {a_only}/{b_only}"),
        Test::Bootstrap { resamples } => format!("bootstrap ×{resamples}"),
    }
}

fn verdict(d: &Difference) -> &'static str {
    match d.verdict {
        Verdict::Better => "B better",
        Verdict::Worse => "B worse",
        Verdict::Differs => "differs",
        Verdict::NotSignificant => "–",
    }
}

fn p(v: f64) -> String {
    if v < 1e-4 {
        format!("{v:.1e}")
    } else {
        format!("{v:.4}")
    }
}

fn side(s: &RunSide) -> String {
    format!(
        "`{}`: {} ({} weights, sha256 {}…)",
        s.dir,
        s.model,
        s.weights,
        s.sha256.get(..12).unwrap_or(&s.sha256)
    )
}

const NOTE: &str = "B − A with a 95 % interval (Agresti–Min for 0/1 scores, bootstrap \
                    percentiles otherwise); McNemar a/b counts the documents only A / only B \
                    got a 1 on.";

fn md_table(s: &mut String, head: &str, rows: &[Difference]) {
    let _ = writeln!(
        s,
        "| {head} | metric | n | A | B | B − A [95 % CI] | test | p | p (Holm) | verdict |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for d in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} | {:.4} | {:+.4} [{:+.4}, {:+.4}] | {} | {} | {} | {} |",
            d.scope,
            d.metric,
            d.n,
            d.mean_a,
            d.mean_b,
            d.diff,
            d.ci.0,
            d.ci.1,
            test_name(d),
            p(d.p),
            p(d.p_holm),
            verdict(d)
        );
    }
}

/// The comparison as Markdown.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# candor compare\n\n* A: {}\n* B: {}\n",
        side(&c.a),
        side(&c.b)
    );
    let _ = writeln!(
        s,
        "## Tasks\n\n{NOTE} Holm's correction runs over all {} task × metric tests; verdicts \
         at α = {}.\n",
        c.tasks.len(),
        c.options.alpha
    );
    md_table(&mut s, "task", &c.tasks);
    if !c.languages.is_empty() {
        let _ = writeln!(
            s,
            "\n## Languages\n\nDocuments pooled per language over tasks; Holm over the {} \
             language × metric tests.\n",
            c.languages.len()
        );
        md_table(&mut s, "language", &c.languages);
    }
    if !c.unpaired.is_empty() {
        let _ = writeln!(
            s,
            "\n## Unpaired documents (left out)\n\n| task | only in A | only in B |\n|---|---|---|"
        );
        for u in &c.unpaired {
            let _ = writeln!(s, "| {} | {} | {} |", u.task, u.only_in_a, u.only_in_b);
        }
    }
    s
}

fn html_table(s: &mut String, head: &str, rows: &[Difference]) {
    let _ = write!(
        s,
        "<div class=\"scroll\"><table><tr><th>{head}</th><th>metric</th><th>n</th><th>A</th>\
         <th>B</th><th>B − A [95 % CI]</th><th>test</th><th>p</th><th>p (Holm)</th>\
         <th>verdict</th></tr>"
    );
    for d in rows {
        let class = match d.verdict {
            Verdict::Better => " class=\"better\"",
            Verdict::Worse => " class=\"worse\"",
            _ => "",
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td>\
             <td class=\"num\">{:.4}</td><td class=\"num\">{:+.4} [{:+.4}, {:+.4}]</td>\
             <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{class}>{}</td></tr>",
            esc(&d.scope),
            esc(&d.metric),
            d.n,
            d.mean_a,
            d.mean_b,
            d.diff,
            d.ci.0,
            d.ci.1,
            esc(&test_name(d)),
            p(d.p),
            p(d.p_holm),
            verdict(d)
        );
    }
    s.push_str("</table></div>");
}

/// Differences as an interval chart per metric, around a dashed zero line.
fn html_charts(s: &mut String, rows: &[Difference]) {
    let mut metrics: Vec<&str> = Vec::new();
    for d in rows {
        if !metrics.contains(&d.metric.as_str()) {
            metrics.push(&d.metric);
        }
    }
    for metric in metrics {
        let chart: Vec<Interval> = rows
            .iter()
            .filter(|d| d.metric == metric)
            .map(|d| Interval {
                label: d.scope.clone(),
                value: d.diff,
                ci: Some(d.ci),
                note: format!("{:+.3} {}", d.diff, verdict(d)),
            })
            .collect();
        let _ = write!(
            s,
            "<figure><h3>{} (B − A)</h3>{}</figure>",
            esc(metric),
            svg::intervals(&chart, 150.0, Some((0.0, "no difference")))
        );
    }
}

/// The comparison as a self-contained HTML page.
pub fn html(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<h1>candor compare</h1><p>A: {}<br>B: {}</p><p class=\"muted\">{} Holm's correction \
         runs over all {} task × metric tests; verdicts at α = {}.</p><h2>Tasks</h2>",
        esc(&side(&c.a)),
        esc(&side(&c.b)),
        esc(NOTE),
        c.tasks.len(),
        c.options.alpha
    );
    html_charts(&mut s, &c.tasks);
    html_table(&mut s, "task", &c.tasks);
    if !c.languages.is_empty() {
        s.push_str("<h2>Languages</h2>");
        html_charts(&mut s, &c.languages);
        html_table(&mut s, "language", &c.languages);
    }
    if !c.unpaired.is_empty() {
        s.push_str(
            "<h2>Unpaired documents (left out)</h2><div class=\"scroll\"><table><tr>\
             <th>task</th><th>only in A</th><th>only in B</th></tr>",
        );
        for u in &c.unpaired {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&u.task),
                u.only_in_a,
                u.only_in_b
            );
        }
        s.push_str("</table></div>");
    }
    document("candor compare", &s, None)
}
