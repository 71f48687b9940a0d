#!/usr/bin/env bash
# The LibTorch device on a CUDA GPU, for a machine that has one (never part of CI): the op conformance
# and fixture tests on cuda:0 against the host reference, eval-unet and generate on the diffusers
# fixtures through the published tool, and bench unet --device host,cuda. About 5 minutes.
#
# LibTorch for CUDA comes from either
#   - a NuGet feed that serves TorchSharp-cuda-linux 0.107 (default: the build uses -p:LibTorch=cuda), or
#   - LIBTORCH_DIR=/path/to/lib: an installed LibTorch 2.10 CUDA build (e.g. Python's torch/lib); its
#     libraries replace the CPU build's in every output folder.
# Results go to $OUT (default: a new temporary folder): logs, JSON, the tool's outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
export DISTRIGEN_TORCH_GLIBCXX_FIX=1 DISTRIGEN_TORCH_TEST_DEVICE=cuda
log() { echo "== $*" | tee -a "$out/device-check.log"; }

nvidia-smi -L | tee -a "$out/device-check.log"
libtorch=(-p:LibTorch=cuda)
[ -n "${LIBTORCH_DIR:-}" ] && libtorch=()

# Puts the CUDA LibTorch libraries into an output folder built against the CPU ones.
use_cuda_libtorch() {
  [ -z "${LIBTORCH_DIR:-}" ] && return 0
  local native
  for native in "$1" "$1/runtimes/linux-x64/native"; do
    [ -f "$native/libtorch_cpu.so" ] && cp -f "$LIBTORCH_DIR"/*.so* "$native/"
  done
  return 0
}

log "publish the tool (self-contained, linux-x64)"
dotnet publish samples/DistriGen.Cli -c Release -r linux-x64 --self-contained "${libtorch[@]}" -o "$out/distrigen" \
  >"$out/publish.log" 2>&1 || { tail -20 "$out/publish.log"; exit 1; }
use_cuda_libtorch "$out/distrigen"
tool="$out/distrigen/distrigen"

log "op conformance and fixtures on cuda:0 against the host"
dotnet build tests/DistriGen.Torch.Tests -c Release "${libtorch[@]}" >"$out/build-tests.log" 2>&1
use_cuda_libtorch tests/DistriGen.Torch.Tests/bin/Release/net10.0
timeout 240 dotnet test tests/DistriGen.Torch.Tests -c Release --no-build \
  --filter "FullyQualifiedName~OpConformance|FullyQualifiedName~TorchPipeline" 2>&1 | tee "$out/tests.log" | tail -5

log "the tool's device tests (eval-unet and Exact on 2 ranks against diffusers, bench side by side) on cuda"
dotnet build tests/DistriGen.Cli.Tests -c Release "${libtorch[@]}" >"$out/build-cli-tests.log" 2>&1
use_cuda_libtorch tests/DistriGen.Cli.Tests/bin/Release/net10.0
timeout 180 dotnet test tests/DistriGen.Cli.Tests -c Release --no-build --filter "FullyQualifiedName~DeviceCliTests" 2>&1 \
  | tee "$out/cli-tests.log" | tail -5

fixtures=tests/DistriGen.Models.Tests/Fixtures
for case in sd-tiny sdxl-tiny; do
  log "eval-unet $case --device cuda"
  "$tool" eval-unet --model "$fixtures/$case" --inputs "$fixtures/$case/inputs.safetensors" \
    --out "$out/$case-unet.safetensors" --device cuda 2>&1 | tee -a "$out/device-check.log"
  log "generate $case --device cuda --ranks 2 --parallelism exact"
  "$tool" generate --model "$fixtures/$case" --embeddings "$fixtures/$case/inputs.safetensors" \
    --init-noise "$fixtures/$case/inputs.safetensors" --steps 10 --guidance 5 --size 64x64 --device cuda --ranks 2 \
    --parallelism exact --save-latents "$out/$case-latents.safetensors" --out "$out/$case.png" 2>&1 | tee -a "$out/device-check.log"
done

log "bench unet, SD 1.5 at 512x512, batch 2: host next to cuda in fp32, bf16 and fp16"
timeout 180 "$tool" bench unet --config sd15 --size 512x512 --batch 2 --repeat 3 --device host,cuda \
  --precision fp32,bf16,fp16 --json "$out/bench-unet.json" 2>&1 | tee "$out/bench-unet.log" | grep -E "UNet|time per call|relative"
log "done: $out"
