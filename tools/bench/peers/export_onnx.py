#!/usr/bin/python3
"""Export the torch.nn UNet / VAE decoder of tools/bench/pytorch_peer.py to ONNX for the ONNX Runtime peer.

Usage:
  /usr/bin/python3 tools/bench/peers/export_onnx.py                      # sd15 UNet, batch 2, 512x512 (latent 64x64)
  /usr/bin/python3 tools/bench/peers/export_onnx.py --what vae --batch 1 # VAE decoder 64x64 -> 512x512
  /usr/bin/python3 tools/bench/peers/export_onnx.py --config sdxl --size 1024x1024

Writes OUT/model.onnx (default OUT: /tmp/distrigen-peers/<config>-<what>/) with random weights
(torch.manual_seed(0)), opset 17, constant folding, fixed shapes. A model over 2 GB cannot be one protobuf:
torch 1.13 then switches to ONNX external data by itself, one raw file per initializer next to model.onnx,
so the folder must be kept whole. OUT/io/ gets the inputs and torch's outputs (raw little-endian + io.json)
so that `OrtPeer --check OUT/io` can compare ONNX Runtime with torch.

Needs only torch (Debian python3-torch 1.13); no `onnx` package and no diffusers.
"""
import argparse
import contextlib
import importlib.util
import io
import json
import os
import shutil
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOBUF_LIMIT = 2 ** 31  # one ModelProto cannot serialize past 2 GiB


def load_peer():
    # pytorch_peer.py is a script, not a package: load it by path so that both peers run the very same modules.
    path = os.path.join(HERE, "..", "pytorch_peer.py")
    spec = importlib.util.spec_from_file_location("pytorch_peer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vae_decoder(peer, size):
    # pytorch_peer.vae() builds its Decoder as a local class and only hands it to timed(); swap timed() for a
    # stub that keeps the closure, so the model is taken as is without a timed (slow) forward pass.
    captured = {}

    def grab(fn, repeat):
        captured.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
        return 1.0

    real = peer.timed
    peer.timed = grab
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            peer.vae(argparse.Namespace(size=size, repeat=0))
    finally:
        peer.timed = real
    return captured["model"]


def build(peer, args):
    w, h = (int(v) for v in args.size.split("x"))
    b = args.batch
    if args.what == "unet":
        cfg = peer.CONFIGS[args.config]
        model = peer.UNet(cfg).eval()
        # Two different timesteps so that a batch-mixing bug in the export would show in the check.
        inputs = {
            "sample": torch.randn(b, 4, h // 8, w // 8),
            "timestep": torch.linspace(500.0, 250.0, b) if b > 1 else torch.full((1,), 500.0),
            "encoder_hidden_states": torch.randn(b, 77, cfg["ctx"]),
        }
        if cfg["sdxl"]:
            inputs["text_embeds"] = torch.randn(b, 2816)
        return model, inputs, ["out_sample"]
    model = vae_decoder(peer, args.size).eval()
    return model, {"latent": torch.randn(b, 4, h // 8, w // 8)}, ["image"]


def save_io(folder, inputs, outputs):
    os.makedirs(folder, exist_ok=True)
    manifest = {"inputs": [], "outputs": []}
    for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
        for name, t in tensors.items():
            t = t.detach().contiguous()
            file = f"{kind[:-1]}-{name}.bin"
            with open(os.path.join(folder, file), "wb") as f:
                f.write(t.numpy().tobytes())  # x86/ARM hosts are little-endian, as OrtPeer reads it
            dtype = {torch.float32: "float32", torch.int64: "int64"}[t.dtype]
            manifest[kind].append({"name": name, "shape": list(t.shape), "dtype": dtype, "file": file})
    with open(os.path.join(folder, "io.json"), "w") as f:
        json.dump(manifest, f, indent=2)


def human(n):
    return f"{n / 2 ** 30:.2f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sd15", choices=["sd15", "sdxl"])
    parser.add_argument("--what", default="unet", choices=["unet", "vae"])
    parser.add_argument("--size", default=None, help="image size WxH (latent is /8); default 512x512, sdxl 1024x1024")
    parser.add_argument("--batch", type=int, default=None, help="default 2 for the UNet (CFG pair), 1 for the VAE")
    parser.add_argument("--out", help="folder or .../model.onnx (default /tmp/distrigen-peers/CONFIG-WHAT)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="empty an existing, non-empty output folder first")
    parser.add_argument("--no-reference", action="store_true", help="skip torch's reference outputs (io/)")
    args = parser.parse_args()
    args.size = args.size or ("1024x1024" if args.config == "sdxl" else "512x512")
    args.batch = args.batch or (2 if args.what == "unet" else 1)
    out = args.out or f"/tmp/distrigen-peers/{args.config}-{args.what}/model.onnx"
    if not out.endswith(".onnx"):
        out = os.path.join(out, "model.onnx")
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(folder) and os.listdir(folder):
        # External data is one file per initializer: stale files from another export would sit beside new ones.
        if not args.overwrite:
            sys.exit(f"{folder} is not empty; pass --overwrite to replace it")
        shutil.rmtree(folder)
    os.makedirs(folder, exist_ok=True)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peer = load_peer()
    model, inputs, output_names = build(peer, args)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    print(f"{args.config} {args.what}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters, "
          f"{human(params)} fp32; inputs " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in inputs.items()))
    if params >= PROTOBUF_LIMIT:
        print("over the 2 GiB protobuf limit: torch 1.13 writes the weights as external data")

    start = time.perf_counter()
    with torch.no_grad():
        # f must be a path (not a file object): torch's large-model path needs a folder for the external data.
        torch.onnx.export(model, tuple(inputs.values()), out, opset_version=17, do_constant_folding=True,
                          input_names=list(inputs), output_names=output_names, export_params=True)
    print(f"exported in {time.perf_counter() - start:.0f} s")

    files = sorted(os.listdir(folder))
    sizes = {f: os.path.getsize(os.path.join(folder, f)) for f in files if os.path.isfile(os.path.join(folder, f))}
    external = {f: s for f, s in sizes.items() if f != "model.onnx"}
    print(f"{out}: {human(sizes['model.onnx'])}")
    if external:
        print(f"{folder}: {len(external)} external-data files, {human(sum(external.values()))}; "
              f"total {human(sum(sizes.values()))}")

    if not args.no_reference:
        start = time.perf_counter()
        with torch.no_grad():
            result = model(*inputs.values())
        print(f"torch reference forward: {time.perf_counter() - start:.1f} s")
        save_io(os.path.join(folder, "io"), inputs, {output_names[0]: result})
        print(f"reference inputs/outputs: {os.path.join(folder, 'io', 'io.json')}")


if __name__ == "__main__":
    main()
