#!/usr/bin/env bash
# Builds and links the `cuda` feature on a machine without a GPU, so that the CUDA path cannot
# rot unnoticed (a GPU machine, when one is lent, runs the binary this builds).
#
# The toolkit comes from PyPI's CUDA 13 wheels, unpacked together under one prefix (cached
# between runs): nvcc, nvvm, crt, cccl and the runtime compile candle's kernels; cuBLAS, cuRAND
# and NVRTC are linked. The driver library, libcuda, is the one part that only a GPU machine
# has: a stub is generated from the driver functions cudarc binds, each returning
# CUDA_ERROR_NO_DEVICE. The compiled build is cached in its own target directory, so later
# runs rebuild only what changed.
#
# Prints the path of the built binary on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-$HOME/.cache}/candor-ci"
cuda="$cache/cuda-13.4"
# Pinned: cudarc 0.19 knows CUDA up to 13.4.
wheels=(
  nvidia-cuda-nvcc==13.4.92 nvidia-nvvm==13.4.92 nvidia-cuda-crt==13.4.92
  nvidia-cuda-runtime==13.4.92 nvidia-cuda-nvrtc==13.4.92 nvidia-cuda-cccl==13.3.5.0.6
  nvidia-cublas==13.10.0.20 nvidia-curand==10.4.5.25
)
if [ ! -x "$cuda/bin/nvcc" ]; then
  rm -rf "$cuda" "$cache/cuda-wheels"
  python3 -m pip download --quiet --no-deps -d "$cache/cuda-wheels" "${wheels[@]}"
  unpacked="$(mktemp -d)"
  for wheel in "$cache/cuda-wheels"/*.whl; do
    python3 -m zipfile -e "$wheel" "$unpacked"
  done
  mv "$unpacked/nvidia/cu13" "$cuda"
  rm -rf "$unpacked" "$cache/cuda-wheels"
  chmod +x "$cuda"/bin/* "$cuda"/bin/crt/* "$cuda"/nvvm/bin/* 2>/dev/null || true
  # The wheels ship only versioned libraries; the linker looks for the plain names.
  for lib in "$cuda"/lib/lib*.so.*; do
    ln -sf "$(basename "$lib")" "${lib%.so.*}.so"
  done
fi

# The libcuda stub, from the driver functions of the cudarc version in Cargo.lock.
cudarc="$(cargo metadata --locked --format-version 1 --features cuda |
  python3 -c 'import json, sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')"
stub="$cache/cuda-stub"
mkdir -p "$stub"
grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+' "$(dirname "$cudarc")/src/driver/sys/mod.rs" | sort -u |
  sed -E 's/^pub unsafe fn (.*)/int \1(void) { return 100; }/' >"$stub/libcuda.c"
cc -shared -fPIC -o "$stub/libcuda.so" "$stub/libcuda.c"

export PATH="$cuda/bin:$PATH" CUDA_ROOT="$cuda" CUDARC_CUDA_VERSION=13040 CUDA_COMPUTE_CAP=90
export LIBRARY_PATH="$stub:$cuda/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CARGO_TARGET_DIR="$cache/cuda-target"
cargo build --locked -p candor-cli --features cuda >&2
binary="$CARGO_TARGET_DIR/debug/candor"

# The binary runs where no GPU is: the CPU path works, and asking for CUDA says why it cannot.
export LD_LIBRARY_PATH="$stub:$cuda/lib"
"$binary" --version >&2
if out="$(RUST_BACKTRACE=0 "$binary" generate --device cuda --prompt hi 2>&1)" ||
  [[ "$out" != *"device 'cuda'"* ]]; then
  echo "error: --device cuda without a GPU should fail, naming the device; it said:" >&2
  echo "$out" >&2
  exit 1
fi
echo "without a GPU, --device cuda fails with: $out" >&2
echo "$binary"
