#!/usr/bin/python3
"""The PyTorch peer of `distrigen bench`: the same kernels and models, same shapes, same threads.

Usage:
  python3 tools/bench/pytorch_peer.py kernels --threads 2
  python3 tools/bench/pytorch_peer.py unet --config sd15 --size 512x512 --batch 2 --threads 2
  python3 tools/bench/pytorch_peer.py vae --size 512x512 --threads 2

Needs only PyTorch (Debian: apt-get install python3-torch). diffusers is used for the UNet when it is
installed; otherwise the same layers are written below with torch.nn (same shapes and FLOPs).
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attention(q, k, v, heads):
    # softmax(q kᵀ / √d) v per head; torch 1.13 has no scaled_dot_product_attention.
    b, n, c = q.shape
    d = c // heads
    q = q.view(b, n, heads, d).transpose(1, 2)
    k = k.view(b, k.shape[1], heads, d).transpose(1, 2)
    v = v.view(b, v.shape[1], heads, d).transpose(1, 2)
    w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * d ** -0.5, dim=-1)
    return torch.matmul(w, v).transpose(1, 2).reshape(b, n, c)


def kernels(args):
    cases = []
    w3 = torch.randn(320, 320, 3, 3)
    w1 = torch.randn(320, 320, 1, 1)
    for batch in (1, 2):
        x = torch.randn(batch, 320, 64, 64)
        cases.append((f"conv 3x3 320->320 64x64 batch {batch}", 2.0 * batch * 320 * 4096 * 2880, lambda x=x: F.conv2d(x, w3, padding=1)))
        if batch == 2:
            cases.append(("conv 1x1 320->320 64x64 batch 2", 2.0 * batch * 320 * 4096 * 320, lambda x=x: F.conv2d(x, w1)))
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    cases.append(("matmul 2048^3", 2.0 * 2048 ** 3, lambda: torch.matmul(a, b)))
    q, k, v = (torch.randn(1, 4096, 320) for _ in range(3))
    cases.append(("attention 4096 tokens, 8x40", 4.0 * 4096 * 4096 * 320, lambda: attention(q, k, v, 8)))
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for name, flops, fn in cases:
        with torch.no_grad():
            seconds = timed(fn, args.repeat)
        print(f"{name:34s} {flops / seconds / 1e9:8.1f} GFLOP/s   {seconds * 1e3:8.2f} ms")


# ---- the SD-family UNet in torch.nn, parameter-for-parameter as diffusers' UNet2DConditionModel ----

class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups=32, eps=1e-5):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin, eps), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout, eps), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attn(nn.Module):
    def __init__(self, dim, heads, ctx=None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx or dim, dim, bias=False)
        self.to_v = nn.Linear(ctx or dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        c = x if ctx is None else ctx
        return self.to_out(attention(self.to_q(x), self.to_k(c), self.to_v(c), self.heads))


class Block(nn.Module):
    def __init__(self, dim, heads, ctx):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attn(dim, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attn(dim, heads, ctx)
        self.norm3, self.proj, self.out = nn.LayerNorm(dim), nn.Linear(dim, dim * 8), nn.Linear(dim * 4, dim)

    def forward(self, x, ctx):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), ctx) + x
        h, gate = self.proj(self.norm3(x)).chunk(2, dim=-1)
        return self.out(h * F.gelu(gate)) + x


class Transformer(nn.Module):
    def __init__(self, dim, heads, ctx, depth, linear):
        super().__init__()
        self.norm = nn.GroupNorm(32, dim, 1e-6)
        self.linear = linear
        self.proj_in = nn.Linear(dim, dim) if linear else nn.Conv2d(dim, dim, 1)
        self.blocks = nn.ModuleList(Block(dim, heads, ctx) for _ in range(depth))
        self.proj_out = nn.Linear(dim, dim) if linear else nn.Conv2d(dim, dim, 1)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        t = self.norm(x)
        if not self.linear:
            t = self.proj_in(t)
        t = t.permute(0, 2, 3, 1).reshape(b, h * w, c)
        if self.linear:
            t = self.proj_in(t)
        for block in self.blocks:
            t = block(t, ctx)
        if self.linear:
            t = self.proj_out(t)
        t = t.reshape(b, h, w, c).permute(0, 3, 1, 2)
        if not self.linear:
            t = self.proj_out(t)
        return t + x


CONFIGS = {
    "sd15": dict(channels=[320, 640, 1280, 1280], attn=[True, True, True, False], heads=[8, 8, 8, 8], depth=[1, 1, 1, 1], ctx=768, linear=False, sdxl=False),
    "sdxl": dict(channels=[320, 640, 1280], attn=[False, True, True], heads=[5, 10, 20], depth=[1, 2, 10], ctx=2048, linear=True, sdxl=True),
}


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, n = cfg["channels"], len(cfg["channels"])
        temb = ch[0] * 4
        self.cfg, self.temb = cfg, temb
        self.conv_in = nn.Conv2d(4, ch[0], 3, padding=1)
        self.time = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.add = nn.Sequential(nn.Linear(2816, temb), nn.SiLU(), nn.Linear(temb, temb)) if cfg["sdxl"] else None
        self.down = nn.ModuleList()
        cin = ch[0]
        for i in range(n):
            res = nn.ModuleList(Resnet(cin if j == 0 else ch[i], ch[i], temb) for j in range(2))
            att = nn.ModuleList(Transformer(ch[i], cfg["heads"][i], cfg["ctx"], cfg["depth"][i], cfg["linear"]) for _ in range(2)) if cfg["attn"][i] else None
            downs = nn.Conv2d(ch[i], ch[i], 3, stride=2, padding=1) if i < n - 1 else None
            self.down.append(nn.ModuleList([res, att if att is not None else nn.ModuleList(), downs if downs is not None else nn.Identity()]))
            cin = ch[i]
        self.mid = nn.ModuleList([Resnet(ch[-1], ch[-1], temb), Transformer(ch[-1], cfg["heads"][-1], cfg["ctx"], cfg["depth"][-1], cfg["linear"]), Resnet(ch[-1], ch[-1], temb)])
        rev, rattn, rheads, rdepth = ch[::-1], cfg["attn"][::-1], cfg["heads"][::-1], cfg["depth"][::-1]
        self.up = nn.ModuleList()
        prev = rev[0]
        for i in range(n):
            out, inp = rev[i], rev[min(i + 1, n - 1)]
            res = nn.ModuleList(Resnet((prev if j == 0 else out) + (inp if j == 2 else out), out, temb) for j in range(3))
            att = nn.ModuleList(Transformer(out, rheads[i], cfg["ctx"], rdepth[i], cfg["linear"]) for _ in range(3)) if rattn[i] else nn.ModuleList()
            ups = nn.Conv2d(out, out, 3, padding=1) if i < n - 1 else nn.Identity()
            self.up.append(nn.ModuleList([res, att, ups]))
            prev = out
        self.norm_out, self.conv_out = nn.GroupNorm(32, ch[0]), nn.Conv2d(ch[0], 4, 3, padding=1)

    def forward(self, x, t, ctx, add=None):
        half = self.cfg["channels"][0] // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half) / half)
        e = t[:, None] * freqs[None]
        temb = self.time(torch.cat([torch.cos(e), torch.sin(e)], -1))
        if self.add is not None:
            temb = temb + self.add(add)
        h = self.conv_in(x)
        skips = [h]
        for res, att, downs in self.down:
            for j in range(2):
                h = res[j](h, temb)
                if len(att):
                    h = att[j](h, ctx)
                skips.append(h)
            if not isinstance(downs, nn.Identity):
                h = downs(h)
                skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb), ctx), temb)
        for res, att, ups in self.up:
            for j in range(3):
                h = res[j](torch.cat([h, skips.pop()], 1), temb)
                if len(att):
                    h = att[j](h, ctx)
            if not isinstance(ups, nn.Identity):
                h = ups(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def unet(args):
    cfg = CONFIGS[args.config]
    w, h = (int(v) for v in args.size.split("x"))
    model = UNet(cfg).eval()
    b = args.batch
    x, t, ctx = torch.randn(b, 4, h // 8, w // 8), torch.full((b,), 500.0), torch.randn(b, 77, cfg["ctx"])
    add = torch.randn(b, 2816) if cfg["sdxl"] else None
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        seconds = timed(lambda: model(x, t, ctx, add), args.repeat)
    print(f"PyTorch {torch.__version__} torch.nn {args.config} UNet ({params / 1e6:.0f} M parameters), batch {b}, latent {w // 8}x{h // 8}, {torch.get_num_threads()} thread(s): {seconds:.3f} s per call")


def vae(args):
    w, h = (int(v) for v in args.size.split("x"))
    ch = [512, 512, 256, 128]
    layers = [nn.Conv2d(4, 4, 1), nn.Conv2d(4, 512, 3, padding=1)]

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.post, self.conv_in = layers
            self.mid = nn.ModuleList([Resnet(512, 512, None, eps=1e-6), Resnet(512, 512, None, eps=1e-6)])
            self.mid_norm, self.mid_attn = nn.GroupNorm(32, 512, 1e-6), Attn(512, 1)
            self.blocks = nn.ModuleList()
            prev = 512
            for i, c in enumerate(ch):
                self.blocks.append(nn.ModuleList([nn.ModuleList(Resnet(prev if j == 0 else c, c, None, eps=1e-6) for j in range(3)),
                                                   nn.Conv2d(c, c, 3, padding=1) if i < 3 else nn.Identity()]))
                prev = c
            self.norm_out, self.conv_out = nn.GroupNorm(32, 128, 1e-6), nn.Conv2d(128, 3, 3, padding=1)

        def forward(self, z):
            x = self.mid[0](self.conv_in(self.post(z)), None)
            b, c, hh, ww = x.shape
            t = self.mid_norm(x).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
            x = self.mid[1](self.mid_attn(t).reshape(b, hh, ww, c).permute(0, 3, 1, 2) + x, None)
            for res, up in self.blocks:
                for r in res:
                    x = r(x, None)
                if not isinstance(up, nn.Identity):
                    x = up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            return self.conv_out(F.silu(self.norm_out(x)))

    model = Decoder().eval()
    z = torch.randn(1, 4, h // 8, w // 8)
    with torch.no_grad():
        seconds = timed(lambda: model(z), args.repeat)
    print(f"PyTorch {torch.__version__} VAE decode {w // 8}x{h // 8} -> {w}x{h}, {torch.get_num_threads()} thread(s): {seconds:.3f} s per call")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["kernels", "unet", "vae"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--config", default="sd15", choices=sorted(CONFIGS))
    parser.add_argument("--size", default="512x512")
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    {"kernels": kernels, "unet": unet, "vae": vae}[args.what](args)


if __name__ == "__main__":
    main()
