//! The keys of a task file. Names follow lm-evaluation-harness's `TaskConfig` where a key
//! means the same thing, so that its YAML tasks port with few edits; candor's own additions
//! (`summary`, `dataset`, `dataset_manifest`, `doc_filter`, `doc_fields`, `multiple_inputs`,
//! `doc_to_continuation`, `languages`, `safety`, ...) are marked below. Unknown keys are errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One name or a list of names (`tag: safety` or `tag: [safety, qa]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// `doc_to_choice`: one template that yields a list, or a list of templates.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Choices {
    Template(String),
    List(Vec<String>),
}

/// What the model is asked, as in lm-evaluation-harness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputType {
    /// One log-likelihood request per choice; `acc`, `acc_norm`, `mc1`, `mc2`.
    MultipleChoice,
    /// One log-likelihood request for the target; `acc` (is the target the greedy answer).
    Loglikelihood,
    /// The likelihood of a whole text; `bits_per_byte`.
    LoglikelihoodRolling,
    /// Generated text, filtered and compared with the target; `exact_match`.
    #[default]
    GenerateUntil,
}

impl std::fmt::Display for OutputType {
    /// The name a task file writes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MultipleChoice => "multiple_choice",
            Self::Loglikelihood => "loglikelihood",
            Self::LoglikelihoodRolling => "loglikelihood_rolling",
            Self::GenerateUntil => "generate_until",
        })
    }
}

/// candor: what a safety task's prompts are. Harmful prompts give `unsafe_compliance` (the
/// answer complied), benign ones `over_refusal` (the answer refused); both join the report's
/// safety section with Wilson intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyKind {
    Harmful,
    Benign,
}

impl SafetyKind {
    /// The name a task file writes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Harmful => "harmful",
            Self::Benign => "benign",
        }
    }
}

/// candor: `safety:`, one kind for every prompt, or a template giving each document's kind
/// (`harmful` or `benign`), for sets that mix both, as XSTest does.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Safety {
    Kind(SafetyKind),
    PerDocument(String),
}

impl Safety {
    /// Whether some of the prompts may be of `kind`.
    pub fn admits(&self, kind: SafetyKind) -> bool {
        match self {
            Self::Kind(k) => *k == kind,
            Self::PerDocument(_) => true,
        }
    }
}

/// File formats candor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Jsonl,
    /// A JSON array of objects.
    Json,
    Csv,
    Tsv,
    /// candor: one document per non-empty line, with the fields `text` and `line`.
    Lines,
}

impl Format {
    /// The format a file name suggests.
    pub fn from_path(path: &str) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        [
            (".jsonl", Self::Jsonl),
            (".json", Self::Json),
            (".csv", Self::Csv),
            (".tsv", Self::Tsv),
            (".txt", Self::Lines),
        ]
        .into_iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, f)| f)
    }
}

/// candor: local data files, relative to the data directory.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Split name → file path or glob (a template: `{{ lang }}` and the language's literals).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Format of every file (default: from the extension, or the manifest's).
    pub format: Option<Format>,
    /// Column names of header-less TSV files (default: the manifest's).
    pub columns: Option<Vec<String>>,
    /// Name, licence, flags and source, when no manifest is used.
    pub name: Option<String>,
    pub license: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub source: Option<String>,
}

/// `dataset_kwargs` (lm-evaluation-harness), as far as data files go.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetKwargs {
    /// Split → path, relative to the data directory (or inside a Hub dataset's repo).
    pub data_files: BTreeMap<String, String>,
}

/// The `datasets` builders whose `data_files` are plain local files.
pub const LOCAL_BUILDERS: &[&str] = &["json", "csv"];

impl TaskConfig {
    /// Read lm-evaluation-harness's local-file form (`dataset_path: json` + `dataset_kwargs:
    /// data_files`) as candor's `dataset: files:`.
    pub fn normalise(&mut self) {
        let local = self
            .dataset_path
            .as_deref()
            .is_some_and(|p| LOCAL_BUILDERS.contains(&p));
        // A Hub dataset's `data_files` are paths inside its repo, read the same way.
        if let Some(kwargs) = self.dataset_kwargs.take() {
            let d = self.dataset.get_or_insert_with(DatasetConfig::default);
            for (split, path) in kwargs.data_files {
                d.files.entry(split).or_insert(path);
            }
        }
        if local {
            self.dataset_path = None;
        }
        if self.summary.is_none() {
            self.summary = self.task_alias.clone();
        }
    }
}

/// `fewshot_config` (lm-evaluation-harness).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FewshotConfig {
    #[serde(default)]
    pub sampler: Sampler,
}

/// How few-shot examples are picked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    /// Shuffle the few-shot split with the run's seed and take the first `k`.
    #[default]
    Random,
    /// The first `k` documents of the few-shot split, in file order.
    FirstN,
}

/// `generation_kwargs` (lm-evaluation-harness names).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationKwargs {
    /// Stop strings.
    #[serde(default)]
    pub until: OneOrMany,
    pub max_gen_toks: Option<usize>,
    pub temperature: Option<f64>,
    /// Sampling filters, used only with `do_sample: true`.
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    /// `false` (the default) decodes greedily whatever the temperature.
    #[serde(default)]
    pub do_sample: bool,
}

/// One entry of `metric_list`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub metric: String,
    /// Only `mean` is supported (per-sample values are averaged).
    pub aggregation: Option<String>,
    pub higher_is_better: Option<bool>,
    /// `exact_match` options, as lm-evaluation-harness's.
    #[serde(default)]
    pub ignore_case: bool,
    #[serde(default)]
    pub ignore_punctuation: bool,
    #[serde(default)]
    pub regexes_to_ignore: Vec<String>,
}

/// One entry of `filter_list`: a named pipeline applied to generated text.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub name: String,
    pub filter: Vec<FilterStep>,
}

/// One step of a filter pipeline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterStep {
    /// `regex`, `take_first`, `remove_whitespace`, `lowercase`, `uppercase`.
    pub function: String,
    pub regex_pattern: Option<String>,
    /// Which match to keep: 0 the first, -1 the last.
    pub group_select: Option<i64>,
    /// Text when nothing matches (default `[invalid]`).
    pub fallback: Option<String>,
}

/// candor: the language matrix, either codes or code → literals for the templates.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Languages {
    Codes(Vec<String>),
    Literals(Map<String, Value>),
}

/// A task file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Task name; with `languages`, `{{ lang }}` in it is replaced, else `_<lang>` is appended.
    pub task: String,
    /// A display name (used as the summary when there is none).
    pub task_alias: Option<String>,
    #[serde(default, alias = "tags")]
    pub tag: OneOrMany,
    /// candor: one line for listings and reports.
    pub summary: Option<String>,
    /// Text (a template) put before the few-shot examples of every prompt.
    pub description: Option<String>,
    /// candor: local files.
    pub dataset: Option<DatasetConfig>,
    /// candor: a manifest name (built in) or a path to a manifest, relative to the task file.
    pub dataset_manifest: Option<String>,
    /// A Hugging Face Hub dataset id; needs `revision`, and its files named under
    /// `dataset: files:` (or `dataset_kwargs: data_files:`) as paths inside the repo.
    pub dataset_path: Option<String>,
    pub dataset_name: Option<String>,
    /// lm-evaluation-harness's local files: `dataset_path: json` (or `csv`) with
    /// `dataset_kwargs: {data_files: {test: PATH}}`; read as `dataset: files:`.
    pub dataset_kwargs: Option<DatasetKwargs>,
    pub revision: Option<String>,
    #[serde(default = "default_test_split")]
    pub test_split: String,
    pub validation_split: Option<String>,
    pub training_split: Option<String>,
    pub fewshot_split: Option<String>,
    /// candor: keep only the documents for which this expression is true.
    pub doc_filter: Option<String>,
    /// candor: documents in round-robin order over the values of this column or template (in
    /// order of first appearance), so that `--limit` covers every value, not the first only.
    pub interleave_by: Option<String>,
    /// candor: each sample's id (a column or template; default the document's position). Ids
    /// must be unique: samples.jsonl and the journal key answers by them.
    pub doc_to_id: Option<String>,
    /// candor: fields computed per document, in order (templates; `{{ expr }}` keeps the type).
    #[serde(default)]
    pub doc_fields: Map<String, Value>,
    pub doc_to_text: Option<String>,
    pub doc_to_target: Option<String>,
    pub doc_to_choice: Option<Choices>,
    /// candor (lm-eval's "multiple inputs"): the choices are alternative contexts that share
    /// one continuation, `doc_to_continuation`; `doc_to_target` is the gold choice.
    #[serde(default)]
    pub multiple_inputs: bool,
    pub doc_to_continuation: Option<String>,
    #[serde(default = "default_target_delimiter")]
    pub target_delimiter: String,
    #[serde(default = "default_fewshot_delimiter")]
    pub fewshot_delimiter: String,
    #[serde(default)]
    pub num_fewshot: usize,
    #[serde(default)]
    pub fewshot_config: FewshotConfig,
    #[serde(default)]
    pub output_type: OutputType,
    /// lm-evaluation-harness's `--apply_chat_template`, per task: a `generate_until` prompt
    /// becomes a chat (the system instruction, then one user turn holding the description,
    /// the few-shot examples and the document) that the model renders with its own template.
    #[serde(default)]
    pub apply_chat_template: bool,
    /// lm-evaluation-harness's `--fewshot_as_multiturn`: with `apply_chat_template`, each
    /// few-shot example becomes a user turn and an assistant turn (the description joins the
    /// system turn).
    #[serde(default)]
    pub fewshot_as_multiturn: bool,
    /// The system turn of a chat prompt (a template); `system_prompt` is accepted too.
    #[serde(alias = "system_prompt")]
    pub system_instruction: Option<String>,
    /// candor: the kind of a safety task's prompts (`harmful`, `benign`, or a template giving
    /// one of the two per document).
    pub safety: Option<Safety>,
    /// candor: each harmful document's MLCommons hazard (a template giving `S1`..`S14`, a
    /// hazard's name, `unmapped`, or a key of `hazard_map`); pooled per hazard in the report.
    /// Benign documents of a mixed task have none.
    pub hazard: Option<String>,
    /// candor: the dataset's own categories → hazard codes (`unmapped` where none fits).
    #[serde(default)]
    pub hazard_map: BTreeMap<String, String>,
    /// candor: the language the report's multilingual section measures the suite's other
    /// languages against (default `en`).
    pub reference_language: Option<String>,
    /// candor: the one language of a task without `languages:` (for the report's language
    /// matrices).
    pub language: Option<String>,
    /// candor: columns whose values break every metric down in the report
    /// (`group_by: [category]` gives "<task> by category").
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default)]
    pub generation_kwargs: GenerationKwargs,
    #[serde(default)]
    pub metric_list: Vec<MetricConfig>,
    #[serde(default)]
    pub filter_list: Vec<FilterConfig>,
    /// candor: expand into one task per language.
    pub languages: Option<Languages>,
    /// candor: with `languages:`, one task instead of one per language: each document gives a
    /// sample in every language, with a `language` breakdown (as MultiJail reports).
    #[serde(default)]
    pub language_breakdown: bool,
    /// candor: with `language_breakdown` and `safety: harmful`, each sample in another
    /// language also asks the same document in the reference language and scores
    /// `gap_to_<reference>`: its unsafe compliance minus the reference's, on the same prompt.
    #[serde(default)]
    pub paired_reference: bool,
    /// Free-form (lm-evaluation-harness keeps `version` here); recorded, not interpreted.
    pub metadata: Option<Value>,
}

/// A `group:` file: a suite made of task files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub group: String,
    /// Task files, relative to the group file.
    pub task: Vec<String>,
    pub summary: Option<String>,
    pub metadata: Option<Value>,
}

fn default_test_split() -> String {
    "test".into()
}

fn default_target_delimiter() -> String {
    " ".into()
}

fn default_fewshot_delimiter() -> String {
    "\n\n".into()
}
