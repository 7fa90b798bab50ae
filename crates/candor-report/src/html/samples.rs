//! The sample browser: the run's samples as JSON in a `<script type="application/json">`
//! block, and a small script that lists them with filters (task, group, correct or wrong,
//! text search). The script builds every element with `textContent`, never `innerHTML`, so
//! model output cannot become markup.

use std::collections::BTreeSet;

use candor_core::names::metric;
use candor_core::{Request, Response, ScoredSample};
use serde_json::{json, Value};

use crate::direction::is_good;
use crate::Report;

/// Samples embedded at most; the rest stay in samples.jsonl (the page says so).
pub const MAX_SAMPLES: usize = 2000;
/// Characters kept of a prompt and of an answer.
pub const MAX_TEXT: usize = 1500;

/// The answer as a person reads it: generated text, or the choices with their
/// log-likelihoods and the model's pick marked.
fn answer(sample: &ScoredSample) -> String {
    let mut choices = Vec::new();
    let mut texts = Vec::new();
    for (i, resp) in sample.responses.iter().enumerate() {
        match (sample.sample.requests.get(i), resp) {
            (Some(Request::Loglikelihood(q)), Response::Loglikelihood(a)) => {
                choices.push((q.continuation.trim().to_string(), a.logprob));
            }
            (_, Response::Loglikelihood(a)) => choices.push((format!("#{i}"), a.logprob)),
            (_, Response::Generate(g)) => texts.push(g.text.clone()),
            (_, Response::Rolling(r)) => texts.push(format!(
                "log-likelihood {:.3} over {} tokens ({} bytes)",
                r.logprob, r.num_tokens, r.num_bytes
            )),
        }
    }
    let best = choices
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, _)| i);
    let mut lines: Vec<String> = choices
        .iter()
        .enumerate()
        .map(|(i, (c, lp))| {
            let mark = if Some(i) == best { "→" } else { " " };
            format!("{mark} {lp:>9.3}  {c}")
        })
        .collect();
    match texts.len() {
        0 => {}
        1 => lines.push(texts.remove(0)),
        _ => {
            for (i, t) in texts.into_iter().enumerate() {
                let head = if i == 0 {
                    "[answer]".to_string()
                } else {
                    format!("[reference request {i}]")
                };
                lines.push(format!("{head}\n{t}"));
            }
        }
    }
    lines.join("\n")
}

/// The detector's verdict on a generated answer, read back from the safety scores it set
/// (samples.jsonl keeps scores, not labels): the refusal detector's `full_refusal`,
/// `partial_refusal` or `full_compliance`, the toxicity detector's `toxic` / `non_toxic`.
fn verdict(sample: &ScoredSample) -> Option<&'static str> {
    let s = &sample.scores;
    let one = |k: &str| s.get(k).map(|v| *v == 1.0);
    if one("full_refusal_safe") == Some(true) {
        return Some("full refusal");
    }
    if one("partial_refusal_safe") == Some(true) {
        return Some("partial refusal");
    }
    if let Some(refused) = one(metric::OVER_REFUSAL) {
        return Some(if refused { "refusal" } else { "complied" });
    }
    if let Some(complied) = one(metric::UNSAFE_COMPLIANCE) {
        return Some(if complied { "complied" } else { "refused" });
    }
    one(metric::TOXIC).map(|t| if t { "toxic" } else { "non-toxic" })
}

/// Samples in round-robin order over tasks, so a cap keeps every task in the browser.
fn pick(samples: &[ScoredSample], cap: usize) -> Vec<&ScoredSample> {
    let mut tasks: Vec<&str> = Vec::new();
    for s in samples {
        if !tasks.contains(&s.task.as_str()) {
            tasks.push(&s.task);
        }
    }
    let per_task: Vec<Vec<&ScoredSample>> = tasks
        .iter()
        .map(|t| samples.iter().filter(|s| s.task == *t).collect())
        .collect();
    let longest = per_task.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| per_task.iter().filter_map(move |v| v.get(i).copied()))
        .take(cap)
        .collect()
}

/// The JSON the browser reads.
pub fn data(report: &Report, samples: &[ScoredSample]) -> Value {
    // The headline metric of a task: its first metric that has a better direction.
    let primary = |task: &str| -> Option<&str> {
        let t = report.tasks.iter().find(|t| t.info.name == task)?;
        t.metrics
            .iter()
            .map(|m| m.name.as_str())
            .find(|m| crate::direction::better(m).is_some())
    };
    let picked = pick(samples, MAX_SAMPLES);
    let mut groups = BTreeSet::new();
    let rows: Vec<Value> = picked
        .iter()
        .map(|s| {
            let g: Vec<String> = s
                .sample
                .groups
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            groups.extend(g.iter().cloned());
            let metric = primary(&s.task);
            let outcome = metric.and_then(|m| s.scores.get(m).and_then(|v| is_good(m, *v)));
            json!({
                "t": s.task,
                "id": s.sample.id,
                "g": g,
                "p": super::page::truncate(&s.sample.prompt, MAX_TEXT),
                "a": super::page::truncate(&answer(s), MAX_TEXT),
                "s": s.scores,
                "m": metric,
                "o": outcome,
                "v": verdict(s),
            })
        })
        .collect();
    let tasks: Vec<&str> = report.tasks.iter().map(|t| t.info.name.as_str()).collect();
    json!({
        "tasks": tasks,
        "groups": groups,
        "total": samples.len(),
        "samples": rows,
    })
}

/// The browser's markup (filled by [`SCRIPT`]).
pub const MARKUP: &str = r#"<div id="filters">
<select id="f-task" aria-label="task"><option value="">all tasks</option></select>
<select id="f-group" aria-label="group"><option value="">all groups</option></select>
<select id="f-outcome" aria-label="outcome"><option value="">correct and wrong</option><option value="1">correct</option><option value="0">wrong</option></select>
<input id="q" type="search" placeholder="search prompts and answers" aria-label="search">
</div>
<p id="count" class="muted"></p>
<div id="samples"></div>
<button id="more" hidden>show more</button>
"#;

/// The browser's script.
pub const SCRIPT: &str = r#"
(function(){
const D=JSON.parse(document.getElementById('sample-data').textContent);
const $=id=>document.getElementById(id);
const el=(tag,cls,text)=>{const e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e;};
for(const t of D.tasks){$('f-task').append(new Option(t,t));}
for(const g of D.groups){$('f-group').append(new Option(g,g));}
let shown=100;
function matches(s){
  const t=$('f-task').value,g=$('f-group').value,o=$('f-outcome').value,q=$('q').value.trim().toLowerCase();
  if(t&&s.t!==t)return false;
  if(g&&!s.g.includes(g))return false;
  if(o&&s.o!==(o==='1'))return false;
  if(q&&!(s.p.toLowerCase().includes(q)||s.a.toLowerCase().includes(q)||s.id.toLowerCase().includes(q)))return false;
  return true;
}
function card(s){
  const c=el('article','sample'),h=el('header');
  h.append(el('b',null,s.t),el('span',null,'#'+s.id));
  for(const g of s.g)h.append(el('span',null,g));
  if(s.o!==null)h.append(el('span',s.o?'ok':'ko',(s.o?'correct':'wrong')+' ('+s.m+')'));
  if(s.v)h.append(el('span',null,'detector: '+s.v));
  c.append(h,el('div','lab','prompt'),el('pre',null,s.p),el('div','lab','answer'),el('pre',null,s.a));
  const sc=Object.entries(s.s).map(([k,v])=>k+' '+(Number.isInteger(v)?v:v.toFixed(4))).join(' · ');
  c.append(el('div','lab','scores: '+sc));
  return c;
}
function render(){
  const hits=D.samples.filter(matches),list=$('samples');
  list.replaceChildren(...hits.slice(0,shown).map(card));
  let note=hits.length+' of '+D.samples.length+' samples';
  if(D.total>D.samples.length)note+=' (the page holds '+D.samples.length+' of the run\'s '+D.total+'; all are in samples.jsonl)';
  $('count').textContent=note;
  $('more').hidden=hits.length<=shown;
}
for(const id of ['f-task','f-group','f-outcome','q'])$(id).addEventListener('input',()=>{shown=100;render();});
$('more').addEventListener('click',()=>{shown+=100;render();});
render();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use candor_core::{Generation, Loglikelihood, LoglikelihoodRequest, Sample};
    use std::collections::BTreeMap;

    fn sample(task: &str, requests: Vec<Request>, responses: Vec<Response>) -> ScoredSample {
        ScoredSample {
            task: task.into(),
            sample: Sample {
                id: "0".into(),
                prompt: "p".into(),
                requests,
                groups: BTreeMap::new(),
                target: Value::Null,
            },
            responses,
            labels: Vec::new(),
            scores: BTreeMap::new(),
            error: None,
        }
    }

    #[test]
    fn answers_mark_the_models_choice() {
        let req = |c: &str| Request::Loglikelihood(LoglikelihoodRequest::new("ctx", c));
        let resp = |lp: f64| {
            Response::Loglikelihood(Loglikelihood {
                logprob: lp,
                is_greedy: false,
                num_tokens: 1,
            })
        };
        let s = sample(
            "t",
            vec![req(" a"), req(" b")],
            vec![resp(-2.0), resp(-1.0)],
        );
        assert_eq!(answer(&s), "     -2.000  a\n→    -1.000  b");
    }

    #[test]
    fn verdicts_come_from_safety_scores_and_caps_keep_every_task() {
        let generation = Response::Generate(Generation {
            text: "no".into(),
            finish_reason: candor_core::FinishReason::Stop,
            num_tokens: 1,
        });
        let mut s = sample("a", Vec::new(), vec![generation]);
        assert_eq!(answer(&s), "no");
        s.scores.insert("unsafe_compliance".into(), 0.0);
        assert_eq!(verdict(&s), Some("refused"));
        s.scores.insert("full_refusal_safe".into(), 1.0);
        assert_eq!(verdict(&s), Some("full refusal"));
        let mut many: Vec<ScoredSample> = (0..5).map(|_| s.clone()).collect();
        let mut b = s.clone();
        b.task = "b".into();
        many.push(b);
        let kept: Vec<&str> = pick(&many, 2).iter().map(|s| s.task.as_str()).collect();
        assert_eq!(kept, ["a", "b"]);
    }
}
