#!/usr/bin/env bash
# The SD 1.5 UNet call (batch 2, 64×64 latent, random weights, 2 threads by default) on DistriGen's host
# engine (fp32 direct and Winograd, bf16) and on its peers — LibTorch 2.10 through TorchSharp (NCHW and
# channels-last, fp32 and bf16) and ONNX Runtime 1.32 (fp32; it has no bf16 kernels on the CPU) —
# interleaved in rounds in one run, each setup in a process of its own (so memory and caches start clean),
# then each engine's best median and its ratio to DistriGen in the same precision.
#   tools/bench/peers/run.sh [ROUNDS] [THREADS]
#   WHAT=vae tools/bench/peers/run.sh ...    the VAE decode 64×64 → 512×512 instead
# Needs: the .NET SDK, /usr/bin/python3 with torch (the ONNX export, once), ~12 GiB of free memory.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-1} threads=${2:-2}
out=${OUT:-/tmp/distrigen-peers}
mkdir -p "$out"
export DISTRIGEN_TORCH_GLIBCXX_FIX=1   # TorchSharp 0.107 on a libstdc++ older than GCC 13's (see README "Devices")

dotnet build samples/DistriGen.Cli -c Release -v q >/dev/null
dotnet build tools/bench/peers/OrtPeer -c Release -v q >/dev/null
what=${WHAT:-unet}
case "$what" in
  unet) bench=(bench unet --config sd15 --size 512x512 --batch 2 --repeat 3 --threads "$threads"); result=setups ;;
  vae) bench=(bench vae --size 512x512 --repeat 3 --threads "$threads"); result=devices ;;
  *) echo "WHAT is unet or vae, not '$what'" >&2; exit 2 ;;
esac
[ -f "$out/sd15-$what/model.onnx" ] ||
  /usr/bin/python3 tools/bench/peers/export_onnx.py --what "$what" --out "$out/sd15-$what" --no-reference
cli=samples/DistriGen.Cli/bin/Release/net10.0/distrigen.dll
ort=tools/bench/peers/OrtPeer/bin/Release/net10.0/OrtPeer.dll
# name | distrigen bench arguments
setups=(
  "DistriGen fp32|--device host --precision fp32"
  "DistriGen bf16|--device host --precision bf16"
  "DistriGen fp32, Winograd|--device host --precision fp32 --backend onednn-winograd"
  "LibTorch fp32, NCHW|--device torch-cpu --precision fp32"
  "LibTorch bf16, NCHW|--device torch-cpu --precision bf16"
  "LibTorch fp32, channels-last|--device torch-cpu-nhwc --precision fp32"
  "LibTorch bf16, channels-last|--device torch-cpu-nhwc --precision bf16"
)

for round in $(seq 1 "$rounds"); do
  echo "== round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for i in "${!setups[@]}"; do
    name=${setups[$i]%%|*}
    read -ra args <<< "${setups[$i]#*|}"
    echo "$name"
    dotnet "$cli" "${bench[@]}" "${args[@]}" --json "$out/$what-setup$i-$round.json" | grep -E "time per call|^│ 1 rank"
  done
  echo "ONNX Runtime 1.32"
  dotnet "$ort" "$out/sd15-$what/model.onnx" --threads "$threads" --repeat 3 --warmup 2 --label "sd15 $what" \
    --json "$out/$what-ort-$round.json"
done

names=$(printf '%s\n' "${setups[@]%%|*}")
/usr/bin/python3 - "$out" "$rounds" "$names" "$what" "$result" <<'PY'
import json, sys
out, rounds, names, what, result = sys.argv[1], int(sys.argv[2]), sys.argv[3].split("\n"), sys.argv[4], sys.argv[5]
best = {}
def keep(name, seconds):
    best[name] = min(best.get(name, float("inf")), seconds)
for r in range(1, rounds + 1):
    for i, name in enumerate(names):
        keep(name, json.load(open(f"{out}/{what}-setup{i}-{r}.json"))[result][0]["call"]["seconds"])
    keep("ONNX Runtime 1.32 fp32", json.load(open(f"{out}/{what}-ort-{r}.json"))["seconds"])
ours = {"fp32": best["DistriGen fp32"], "bf16": best["DistriGen bf16"]}
print(f"\n{'engine':36s} {'s/call':>8s}  vs DistriGen direct (same precision)")
for name, seconds in sorted(best.items(), key=lambda kv: kv[1]):
    precision = "bf16" if "bf16" in name else "fp32"
    print(f"{name:36s} {seconds:8.3f}  {seconds / ours[precision]:.2f}×")
PY
