//! Hand-rolled inline SVG charts: an interval chart (a dot per row with its 95 % interval as a
//! whisker) and a heatmap. They scale with their container through `viewBox`, need no script
//! and no library, and every label is escaped.

use std::fmt::Write;

use super::page::esc;

/// One row of an interval chart.
pub struct Interval {
    pub label: String,
    pub value: f64,
    /// The 95 % interval, when known.
    pub ci: Option<(f64, f64)>,
    /// Text at the row's right end (the value, a gap ...).
    pub note: String,
}

const WIDTH: f64 = 640.0;
const ROW: f64 = 22.0;
const TOP: f64 = 22.0;

/// A domain for the rows: [0, 1] when everything fits (proportions), else the data's range
/// widened to include 0 and rounded outwards.
fn domain(rows: &[Interval]) -> (f64, f64) {
    let points = rows.iter().flat_map(|r| {
        let (lo, hi) = r.ci.unwrap_or((r.value, r.value));
        [r.value, lo, hi]
    });
    let (min, max) = points
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if min >= 0.0 && max <= 1.0 {
        return (0.0, 1.0);
    }
    let span = (max - min).max(1e-9);
    let step = 10f64.powf(span.log10().floor()) / 2.0;
    ((min / step).floor() * step, (max / step).ceil() * step)
}

/// An interval chart; `reference` draws a dashed line (an English score, a zero difference).
pub fn intervals(rows: &[Interval], label_width: f64, reference: Option<(f64, &str)>) -> String {
    let (lo, hi) = domain(rows);
    let (x0, x1) = (label_width, WIDTH - 90.0);
    let x = |v: f64| x0 + (v.clamp(lo, hi) - lo) / (hi - lo) * (x1 - x0);
    let height = TOP + ROW * rows.len() as f64 + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" stroke=\"#e3e6eb\"/>\
             <text x=\"{0:.1}\" y=\"13\" font-size=\"11\" text-anchor=\"middle\">{3}</text>",
            x(v),
            TOP - 4.0,
            height - 6.0,
            tick(v)
        );
    }
    if let Some((v, name)) = reference {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" stroke=\"#8a93a3\" \
             stroke-dasharray=\"4 3\"><title>{3}</title></line>",
            x(v),
            TOP - 4.0,
            height - 6.0,
            esc(name)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        let _ = write!(
            s,
            "<g><title>{}: {}</title><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" \
             text-anchor=\"end\">{}</text>",
            esc(&r.label),
            esc(&r.note),
            label_width - 6.0,
            y + 4.0,
            esc(&clip(&r.label, (label_width / 7.0) as usize))
        );
        if let Some((a, b)) = r.ci {
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#2f5fb3\" \
                 stroke-width=\"2\"/>",
                x(a),
                x(b)
            );
        }
        if r.value.is_finite() {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"#2f5fb3\"/>",
                x(r.value)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text></g>",
            x1 + 8.0,
            y + 4.0,
            esc(&r.note)
        );
    }
    s.push_str("</svg>");
    s
}

fn tick(v: f64) -> String {
    let t = format!("{v:.2}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" {
        "0".into()
    } else {
        t.into()
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.into();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A heatmap cell: a rate in [0, 1] (none: an empty cell) and its text lines.
pub struct Cell {
    pub rate: Option<f64>,
    pub lines: [String; 2],
}

/// White (0) to red (1), so a glance finds the languages where a model is least safe.
fn heat(rate: f64) -> String {
    let t = rate.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 190.0),
        mix(255.0, 30.0),
        mix(255.0, 40.0)
    )
}

/// A heatmap: one row per label, one column per header.
pub fn heatmap(columns: &[&str], rows: &[(String, Vec<Cell>)]) -> String {
    let (label_w, cell_w, cell_h, top) = (70.0, 170.0, 40.0, 24.0);
    let width = label_w + cell_w * columns.len() as f64;
    let height = top + cell_h * rows.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         xmlns=\"http://www.w3.org/2000/svg\" style=\"max-width:{width}px\">"
    );
    for (j, c) in columns.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"16\" font-size=\"12\" font-weight=\"600\" \
             text-anchor=\"middle\">{}</text>",
            label_w + cell_w * (j as f64 + 0.5),
            esc(c)
        );
    }
    for (i, (label, cells)) in rows.iter().enumerate() {
        let y = top + cell_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + cell_h / 2.0 + 4.0,
            esc(label)
        );
        for (j, cell) in cells.iter().enumerate() {
            let x = label_w + cell_w * j as f64;
            let fill = cell.rate.map_or("#f1f2f4".to_string(), heat);
            let dark = cell.rate.is_some_and(|r| r > 0.6);
            let ink = if dark { " style=\"fill:#fff\"" } else { "" };
            let _ = write!(
                s,
                "<g><title>{label}, {}: {} {}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" \
                 width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"#fff\" \
                 stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" \
                 font-weight=\"600\" text-anchor=\"middle\"{ink}>{}</text><text x=\"{:.1}\" \
                 y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\"{ink}>{}</text></g>",
                esc(columns.get(j).copied().unwrap_or_default()),
                esc(&cell.lines[0]),
                esc(&cell.lines[1]),
                cell_w,
                cell_h,
                x + cell_w / 2.0,
                y + 17.0,
                esc(&cell.lines[0]),
                x + cell_w / 2.0,
                y + 32.0,
                esc(&cell.lines[1]),
                label = esc(label),
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, value: f64, ci: Option<(f64, f64)>) -> Interval {
        Interval {
            label: label.into(),
            value,
            ci,
            note: format!("{value:.2}"),
        }
    }

    #[test]
    fn proportions_use_the_unit_domain_and_others_widen() {
        assert_eq!(domain(&[row("a", 0.4, Some((0.1, 0.7)))]), (0.0, 1.0));
        // 0.2 .. 2.7: span 2.5, step 0.5, so [0, 3].
        assert_eq!(domain(&[row("a", 2.3, Some((1.9, 2.7)))]), (0.0, 3.0));
        // A negative difference: -0.3 .. 0.05 → step 0.05, [-0.3, 0.05].
        let (lo, hi) = domain(&[row("d", -0.1, Some((-0.3, 0.05)))]);
        assert!(
            (lo + 0.3).abs() < 1e-12 && (hi - 0.05).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn charts_escape_labels_and_place_points() {
        let svg = intervals(&[row("<x>", 0.5, Some((0.25, 0.75)))], 150.0, None);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        // 0.5 of [0, 1] over x 150 .. 550 is 350.
        assert!(svg.contains("cx=\"350.0\""), "{svg}");
        let hm = heatmap(
            &["unsafe"],
            &[(
                "sw".into(),
                vec![Cell {
                    rate: Some(1.0),
                    lines: ["1.00".into(), "n=3".into()],
                }],
            )],
        );
        assert!(hm.contains("fill=\"#be1e28\""), "{hm}");
        assert_eq!(heat(0.0), "#ffffff");
    }
}
