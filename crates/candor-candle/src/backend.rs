//! [`CandleModel`] as a [`LanguageModel`]: requests split into token jobs, scored by the
//! engine, or generated in batches.

use candor_core::{
    GenerateRequest, Generation, GenerationParams, LanguageModel, Loglikelihood,
    LoglikelihoodRequest, ModelError, RollingLoglikelihood, RollingRequest,
};

use crate::model::CandleModel;
use crate::{Error, Result};

impl LanguageModel for CandleModel {
    fn name(&self) -> &str {
        &self.info.name
    }

    /// Everything that decides the numbers: weights (by sha256), how they are held, device,
    /// batch size and threads. An unreadable weights file leaves the sha256 empty, and the
    /// journal then keys answers by name and path.
    fn describe(&self) -> candor_core::ModelRecord {
        let i = &self.info;
        candor_core::ModelRecord {
            spec: self.spec.clone(),
            backend: "candle".into(),
            name: i.name.clone(),
            path: i.path.display().to_string(),
            sha256: self.sha256().map(str::to_string).unwrap_or_default(),
            architecture: i.architecture.clone(),
            parameters: i.parameters,
            quantization: i
                .tensor_types
                .iter()
                .map(|(t, n)| format!("{t} × {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            weights: i.weights.clone(),
            context_length: i.context_length,
            device: match self.device.location() {
                candle_core::DeviceLocation::Cpu => "cpu".into(),
                candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
                candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
            },
            batch_size: self.batch_size,
            threads: rayon::current_num_threads(),
            details: Default::default(),
        }
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.tokenizer
            .as_ref()?
            .encode(text)
            .ok()
            .map(|ids| ids.len())
    }

    fn loglikelihood(
        &self,
        requests: &[LoglikelihoodRequest],
    ) -> Result<Vec<Loglikelihood>, ModelError> {
        let jobs = requests
            .iter()
            .enumerate()
            .map(|(i, r)| self.loglikelihood_job(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .score(&jobs)?
            .into_iter()
            .zip(&jobs)
            .map(|(s, job)| Loglikelihood {
                logprob: s.total(),
                is_greedy: s.greedy,
                num_tokens: job.cont.len(),
            })
            .collect())
    }

    fn loglikelihood_rolling(
        &self,
        requests: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        let mut jobs = Vec::new();
        let mut owner = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            for job in self.rolling_jobs(i, &r.text)? {
                owner.push(i);
                jobs.push(job);
            }
        }
        let scores = self.score(&jobs)?;
        let mut out: Vec<RollingLoglikelihood> = requests
            .iter()
            .map(|r| RollingLoglikelihood {
                logprob: 0.0,
                num_tokens: 0,
                num_bytes: r.text.len(),
            })
            .collect();
        for ((s, job), &i) in scores.iter().zip(&jobs).zip(&owner) {
            out[i].logprob += s.total();
            out[i].num_tokens += job.cont.len();
        }
        Ok(out)
    }

    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        let prompts = requests
            .iter()
            .map(|r| self.prompt_ids(&r.prompt).map(|ids| (ids, &r.params)))
            .collect::<Result<Vec<_>>>()?;
        // Rows of similar prompt length decode together, so padding stays small.
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.sort_by_key(|&i| prompts[i].0.len());
        let mut out: Vec<Option<Generation>> = vec![None; requests.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<(Vec<u32>, &GenerationParams)> =
                chunk.iter().map(|&i| prompts[i].clone()).collect();
            let results = self.generate_batch(&batch, true).map_err(|e| match e {
                Error::Request(ModelError::ContextTooLong { index, tokens, max }) => {
                    ModelError::ContextTooLong {
                        index: chunk[index],
                        tokens,
                        max,
                    }
                }
                Error::Request(ModelError::InvalidRequest { index, reason }) => {
                    ModelError::InvalidRequest {
                        index: chunk[index],
                        reason,
                    }
                }
                other => other.into(),
            })?;
            for (&i, (ids, finish)) in chunk.iter().zip(results) {
                let text = self.generation_text(&ids, &finish, &requests[i].params.stop)?;
                out[i] = Some(Generation {
                    text,
                    finish_reason: finish,
                    num_tokens: ids.len(),
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}
