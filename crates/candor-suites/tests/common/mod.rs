//! A model for tests that only generates: each request's answer comes from a function.

use candor_core::{
    GenerateRequest, Generation, LanguageModel, Loglikelihood, LoglikelihoodRequest, ModelError,
    RollingLoglikelihood, RollingRequest,
};

pub struct Generator<F>(pub F);

impl<F> LanguageModel for Generator<F>
where
    F: Fn(&GenerateRequest) -> Result<Generation, ModelError> + Send + Sync,
{
    fn name(&self) -> &str {
        "generator"
    }

    fn loglikelihood(&self, _: &[LoglikelihoodRequest]) -> Result<Vec<Loglikelihood>, ModelError> {
        Err(ModelError::Backend("a generation-only test model".into()))
    }

    fn loglikelihood_rolling(
        &self,
        _: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        Err(ModelError::Backend("a generation-only test model".into()))
    }

    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        requests.iter().map(&self.0).collect()
    }
}
