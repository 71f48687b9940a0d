#!/usr/bin/env bash
# The SD 1.5 UNet call (batch 2, 64×64 latent, random weights, 2 threads by default) on DistriGen's host
# engine (fp32 direct and Winograd, bf16) and on its peers — LibTorch 2.10 through TorchSharp (NCHW and
# channels-last, fp32 and bf16) and ONNX Runtime 1.32 (fp32; it has no bf16 kernels on the CPU) —
# interleaved in rounds in one run, then each engine's best median and its ratio to DistriGen.
#   tools/bench/peers/run.sh [ROUNDS] [THREADS]
# Needs: the .NET SDK, /usr/bin/python3 with torch (the ONNX export, once), ~12 GiB of free memory.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-1} threads=${2:-2}
out=${OUT:-/tmp/distrigen-peers}
mkdir -p "$out"
export DISTRIGEN_TORCH_GLIBCXX_FIX=1   # TorchSharp 0.107 on a libstdc++ older than GCC 13's (see README "Devices")

dotnet build samples/DistriGen.Cli -c Release -v q >/dev/null
dotnet build tools/bench/peers/OrtPeer -c Release -v q >/dev/null
[ -f "$out/sd15-unet/model.onnx" ] || /usr/bin/python3 tools/bench/peers/export_onnx.py --out "$out/sd15-unet" --no-reference
cli=samples/DistriGen.Cli/bin/Release/net10.0/distrigen.dll
ort=tools/bench/peers/OrtPeer/bin/Release/net10.0/OrtPeer.dll
unet=(bench unet --config sd15 --size 512x512 --batch 2 --repeat 3 --threads "$threads")

for round in $(seq 1 "$rounds"); do
  echo "== round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet "$cli" "${unet[@]}" --device host --precision fp32,bf16 --json "$out/distrigen-$round.json" | grep -E "UNet,|time per call"
  dotnet "$cli" "${unet[@]}" --backend onednn-winograd --json "$out/winograd-$round.json" | grep -E "UNet,|time per call"
  dotnet "$cli" "${unet[@]}" --device torch-cpu,torch-cpu-nhwc --precision fp32,bf16 --json "$out/libtorch-$round.json" \
    | grep -E "UNet,|time per call"
  dotnet "$ort" "$out/sd15-unet/model.onnx" --threads "$threads" --repeat 3 --warmup 2 --label "sd15 unet" --json "$out/ort-$round.json"
done

/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
best = {}
def keep(name, seconds):
    best[name] = min(best.get(name, float("inf")), seconds)
for r in range(1, rounds + 1):
    for file, prefix in ((f"distrigen-{r}.json", "DistriGen"), (f"winograd-{r}.json", "DistriGen Winograd"), (f"libtorch-{r}.json", "LibTorch")):
        for s in json.load(open(f"{out}/{file}"))["setups"]:
            keep(f"{prefix} {s['device']}" if prefix != "DistriGen Winograd" else "DistriGen host, Winograd", s["call"]["seconds"])
    keep("ONNX Runtime 1.32", json.load(open(f"{out}/ort-{r}.json"))["seconds"])
ours = {"fp32": best["DistriGen host"], "bf16": best["DistriGen host (bf16)"]}
print(f"\n{'engine':42s} {'s/call':>8s}  vs DistriGen (same precision)")
for name, seconds in sorted(best.items(), key=lambda kv: kv[1]):
    precision = "bf16" if "bf16" in name else "fp32"
    print(f"{name:42s} {seconds:8.3f}  {seconds / ours[precision]:.2f}×")
PY
