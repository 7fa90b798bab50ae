//! Batched generation: each prompt prefilled on its own, then every unfinished row decoded in
//! one batch over caches padded to a common length, each row with its own positions and mask,
//! so a row generates what it would alone.

use candle_core::Tensor;
use candor_core::{FinishReason, GenerationParams, ModelError};

use crate::model::CandleModel;
use crate::sampling::Sampler;
use crate::transformer::{KvCache, LayerCache, RowLayout, RowSpan};
use crate::{Error, Result};

impl CandleModel {
    /// Generate from prompt ids. With `stop_at_eos` false the model runs for exactly
    /// `max_new_tokens` (unless a stop string ends it), as reference fixtures do.
    pub fn generate_ids(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        stop_at_eos: bool,
    ) -> Result<(Vec<u32>, FinishReason)> {
        Ok(self
            .generate_batch(&[(prompt.to_vec(), params)], stop_at_eos)?
            .remove(0))
    }

    /// Generate for several prompts at once. Each prompt is prefilled on its own; decoding then
    /// runs all unfinished rows in one batch, with each row's cache padded to a common length and
    /// masked, and its own positions, so a row computes what it would compute alone.
    pub fn generate_batch(
        &self,
        prompts: &[(Vec<u32>, &GenerationParams)],
        stop_at_eos: bool,
    ) -> Result<Vec<(Vec<u32>, FinishReason)>> {
        let max = self.model.max_context();
        let eos: &[u32] = match (&self.tokenizer, stop_at_eos) {
            (Some(t), true) => &t.eos,
            _ => &[],
        };
        let mut out: Vec<Option<(Vec<u32>, FinishReason)>> = vec![None; prompts.len()];
        let mut live = Vec::new();
        let mut caches = Vec::new();
        let mut logits = Vec::new();
        for (row, (prompt, params)) in prompts.iter().enumerate() {
            if prompt.is_empty() {
                return Err(Error::Request(ModelError::InvalidRequest {
                    index: row,
                    reason: "the prompt has no tokens".into(),
                }));
            }
            if prompt.len() >= max {
                return Err(Error::Request(ModelError::ContextTooLong {
                    index: row,
                    tokens: prompt.len(),
                    max,
                }));
            }
            if params.max_new_tokens == 0 {
                out[row] = Some((Vec::new(), FinishReason::Length));
                continue;
            }
            let tokens = Tensor::new(prompt.as_slice(), &self.device)?.unsqueeze(0)?;
            let (hidden, cache) = self.model.forward(&tokens, None, None, None)?;
            let last = hidden.narrow(1, prompt.len() - 1, 1)?.squeeze(0)?;
            logits.push(self.model.logits(&last)?.squeeze(0)?.to_vec1::<f32>()?);
            caches.push(cache);
            live.push(Decoding {
                row,
                prompt_len: prompt.len(),
                new: Vec::new(),
                sampler: Sampler::new(params),
                params,
            });
        }
        let Some(mut cache) = pad_caches(&caches)? else {
            return Ok(out.into_iter().flatten().collect());
        };
        drop(caches);
        let padded_len = cache.len();
        loop {
            let mut keep = Vec::new();
            for (i, (d, l)) in live.iter_mut().zip(&logits).enumerate() {
                let next = d.sampler.sample(l);
                d.new.push(next);
                match self.finished(d, next, eos, max)? {
                    Some(reason) => out[d.row] = Some((std::mem::take(&mut d.new), reason)),
                    None => keep.push(i),
                }
            }
            if keep.is_empty() {
                break;
            }
            if keep.len() < live.len() {
                let rows: Vec<u32> = keep.iter().map(|&i| i as u32).collect();
                cache = cache.select_rows(&Tensor::new(rows.as_slice(), &self.device)?)?;
                live = live
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep.contains(i))
                    .map(|(_, d)| d)
                    .collect();
            }
            let b = live.len();
            let spans: Vec<RowSpan> = live
                .iter()
                .map(|d| RowSpan {
                    prefix: d.prompt_len,
                    padded: padded_len,
                })
                .collect();
            let rows = RowLayout::after_cache(&spans, cache.len(), 1, &self.device)?;
            let inputs: Vec<u32> = live.iter().map(|d| d.new[d.new.len() - 1]).collect();
            let tokens = Tensor::from_vec(inputs, (b, 1), &self.device)?;
            let (hidden, grown) = self
                .model
                .forward(&tokens, None, Some(&cache), Some(&rows))?;
            cache = grown;
            logits = self.model.logits(&hidden.squeeze(1)?)?.to_vec2::<f32>()?;
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Why a row stops after emitting `next`, if it does.
    fn finished(
        &self,
        d: &Decoding,
        next: u32,
        eos: &[u32],
        max: usize,
    ) -> Result<Option<FinishReason>> {
        if eos.contains(&next) {
            return Ok(Some(FinishReason::Eos));
        }
        if !d.params.stop.is_empty() {
            let text = self.tokenizer()?.decode(&d.new, true)?;
            if d.params.stop.iter().any(|s| text.contains(s.as_str())) {
                return Ok(Some(FinishReason::Stop));
            }
        }
        if d.new.len() >= d.params.max_new_tokens || d.prompt_len + d.new.len() >= max {
            return Ok(Some(FinishReason::Length));
        }
        Ok(None)
    }

    /// The text of generated ids, cut before the first stop string.
    pub(crate) fn generation_text(
        &self,
        ids: &[u32],
        finish: &FinishReason,
        stop: &[String],
    ) -> Result<String> {
        let mut text = self.tokenizer()?.decode(ids, true)?;
        if *finish == FinishReason::Stop {
            let cut = stop
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .min()
                .unwrap_or(text.len());
            text.truncate(cut);
        }
        Ok(text)
    }
}

/// A row being generated.
struct Decoding<'a> {
    row: usize,
    prompt_len: usize,
    new: Vec<u32>,
    sampler: Sampler,
    params: &'a GenerationParams,
}

/// Stack batch-1 caches of different lengths into one, zero-padded at the end of each row
/// (the caller masks the padding out).
fn pad_caches(caches: &[KvCache]) -> Result<Option<KvCache>> {
    let Some(first) = caches.first() else {
        return Ok(None);
    };
    let len = caches.iter().map(KvCache::len).max().unwrap_or(0);
    // Pads the length axis, `axis`, of a batch-1 tensor to `len`.
    let pad = |t: &Tensor, axis: usize| -> Result<Tensor> {
        let l = t.dim(axis)?;
        if l == len {
            return Ok(t.clone());
        }
        let mut dims = t.dims().to_vec();
        dims[axis] = len - l;
        let zeros = Tensor::zeros(dims, t.dtype(), t.device())?;
        Ok(Tensor::cat(&[t, &zeros], axis)?)
    };
    let layers = (0..first.layers.len())
        .map(|i| -> Result<LayerCache> {
            let stack = |part: &dyn Fn(&LayerCache) -> &Tensor, axis| -> Result<Tensor> {
                let padded = caches
                    .iter()
                    .map(|c| pad(part(&c.layers[i]), axis))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Tensor::cat(&padded, 0)?)
            };
            Ok(LayerCache {
                kt: stack(&|l| &l.kt, 3)?,
                v: stack(&|l| &l.v, 2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(KvCache { layers }))
}
