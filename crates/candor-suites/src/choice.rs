//! Pieces shared by multiple-choice tasks.

use candor_core::{LoglikelihoodRequest, Request, Response, Sample, TaskError};

/// One log-likelihood request per continuation of `context`.
pub fn requests(context: &str, continuations: &[String]) -> Vec<Request> {
    continuations
        .iter()
        .map(|c| Request::Loglikelihood(LoglikelihoodRequest::new(context, c.as_str())))
        .collect()
}

/// The log-likelihoods of a sample's answers, in request order.
pub fn logliks(task: &str, sample: &Sample, responses: &[Response]) -> Result<Vec<f64>, TaskError> {
    if responses.len() != sample.requests.len() {
        return Err(TaskError::Scoring {
            task: task.into(),
            sample: sample.id.clone(),
            reason: format!(
                "{} answers for {} requests",
                responses.len(),
                sample.requests.len()
            ),
        });
    }
    responses
        .iter()
        .map(|r| match r {
            Response::Loglikelihood(l) => Ok(l.logprob),
            other => Err(TaskError::Scoring {
                task: task.into(),
                sample: sample.id.clone(),
                reason: format!("expected a log-likelihood, got {other:?}"),
            }),
        })
        .collect()
}
