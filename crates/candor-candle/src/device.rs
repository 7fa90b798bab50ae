use candle_core::Device;

use crate::{Error, Result};

/// Parse a device name: `cpu`, `cuda` (the first GPU) or `cuda:N`.
///
/// Asking for CUDA in a build without the `cuda` feature is an error that says how to get it,
/// rather than a silent fall back to the CPU.
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("cpu") {
        return Ok(Device::Cpu);
    }
    let ordinal = match name.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| Error::Device(name.into(), "expected cpu, cuda or cuda:N".into()))?,
        None => {
            return Err(Error::Device(
                name.into(),
                "expected cpu, cuda or cuda:N".into(),
            ))
        }
    };
    if !candle_core::utils::cuda_is_available() {
        return Err(Error::Device(
            name.into(),
            "this build of candor has no CUDA support; rebuild with `--features cuda`".into(),
        ));
    }
    Device::new_cuda(ordinal)
        .map_err(|e| Error::Device(name.into(), crate::error::candle_message(&e)))
}

/// Use `n` threads for the CPU kernels (candle's matmuls and candor's own parallel work).
///
/// Call it once, before the first model runs. On a busy machine fewer threads than cores is
/// often faster: the quantized kernels spin while they wait for each other.
pub fn set_threads(n: usize) {
    let n = n.max(1);
    // candle reads RAYON_NUM_THREADS for its matmul thread count; rayon's global pool serves
    // the quantized kernels. Both must agree.
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    // A pool built already (by an earlier call) keeps its size; that is harmless.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_and_bad_names_are_errors() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        let err = parse_device("tpu:0").unwrap_err().to_string();
        assert!(err.contains("expected cpu, cuda or cuda:N"), "{err}");
        let err = parse_device("cuda:x").unwrap_err().to_string();
        assert!(err.contains("cuda:x"), "{err}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = parse_device("cuda:0").unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
