//! The page shell every candor HTML file shares: escaping, the inline style sheet, and a
//! Content-Security-Policy that forbids any request, so a report can never reach the network
//! (a font, an image or a script from elsewhere would be blocked and logged, not fetched).

use std::fmt::Write;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block: `<`, `>` and `&` become `\u003c` …,
/// which JSON reads back unchanged and which cannot close the script element (`</script>`)
/// or open a comment in it (`<!--`). They only occur inside JSON strings, where the escape is
/// valid.
pub fn script_json(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, with a note saying how long it was when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!(
            "{}… [cut: {} characters in all, see samples.jsonl]",
            &text[..cut],
            text.chars().count()
        ),
    }
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch (civil-from-days, proleptic
/// Gregorian calendar).
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

const STYLE: &str = r#"
:root{--fg:#1d2330;--muted:#5b6472;--line:#d9dde4;--bg:#fff;--panel:#f6f7f9;--accent:#2f5fb3;--good:#1f7a4d;--bad:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{font-size:1em;margin:1.2em 0 .4em}
nav{display:flex;flex-wrap:wrap;gap:.3em .9em;font-size:.9em;margin:.5em 0 1em}
a{color:var(--accent)}
.muted,figcaption{color:var(--muted);font-size:.88em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:8px}
.card{background:var(--panel);border-radius:6px;padding:8px 10px}.card b{display:block;font-size:1.25em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9em;margin:.4em 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code.hash{word-break:break-all}
pre{background:var(--panel);padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
figure{margin:.6em 0 1.2em}svg.chart{width:100%;height:auto;max-width:760px;display:block}
svg text{font-family:system-ui,sans-serif;fill:var(--fg)}
.better{color:var(--good);font-weight:600}.worse{color:var(--bad);font-weight:600}
#filters{display:flex;flex-wrap:wrap;gap:8px;margin:.5em 0}
#filters select,#filters input{font:inherit;padding:4px 6px;max-width:100%}
#filters input{flex:1 1 12em}
.sample{border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:8px 0}
.sample header{display:flex;flex-wrap:wrap;gap:.2em .8em;font-size:.88em;color:var(--muted)}
.sample header b{color:var(--fg)}
.sample .ok{color:var(--good);font-weight:600}.sample .ko{color:var(--bad);font-weight:600}
.sample pre{max-height:16em;overflow-y:auto;margin:.3em 0}
.sample .lab{font-size:.8em;color:var(--muted);margin-top:.4em}
button{font:inherit;padding:4px 12px}
@media (max-width:600px){body{font-size:14px}main{padding:10px}th,td{padding:3px 5px}}
"#;

/// A whole HTML document around `body` (already escaped markup), with an optional inline
/// script.
pub fn document(title: &str, body: &str, script: Option<&str>) -> String {
    let mut s = String::with_capacity(body.len() + 4096);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>",
        esc(title)
    );
    if let Some(js) = script {
        let _ = writeln!(s, "<script>{js}</script>");
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_script_breakouts() {
        assert_eq!(
            esc(r#"<b a="1">&'x'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;x&#39;&lt;/b&gt;"
        );
        let v = serde_json::json!({"p": "</script><!-- & <script>alert(1)</script>"});
        let s = script_json(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        // JSON reads the escapes back as the original text.
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn truncates_on_characters_with_a_note() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(
            truncate("héllo wörld", 4),
            "héll… [cut: 11 characters in all, see samples.jsonl]"
        );
    }

    #[test]
    fn utc_dates_by_hand() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 12:34:56 UTC = 19782 days · 86400 + 45296 s.
        assert_eq!(utc(19_782 * 86_400 + 45_296), "2024-02-29 12:34 UTC");
    }
}
