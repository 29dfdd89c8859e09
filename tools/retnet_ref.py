#!/usr/bin/python3
"""retnet_ref.py - PyTorch reference of the FarSight RetNet (src/model/retnet.c).

Writes tests/data/retnet_ref.bin: a fixed tiny model (2 layers, so layer stacking is
checked too), fixed inputs and targets (with some pad targets, which the loss ignores),
and what the reference computes in float64: logits, loss, the gradient of every
parameter, and the parameters after one AdamW step.  tests/test_retnet_ref.c reads the
file and compares the C model against it, so the test suite needs no Python.

With --default it writes tests/data/retnet_ref_default.bin instead: the project's
default sizes (V=16, D=16, 1 layer, 2 heads, F=32; sequences of 64 tokens), the shape
the fused inference kernels of src/model/kernels.c are written for; test_retnet_ref
steps every kernel through its inputs and compares the logits.

Run with Debian's interpreter (python3-torch, python3-numpy):
    /usr/bin/python3 tools/retnet_ref.py [tests/data/retnet_ref.bin]
    /usr/bin/python3 tools/retnet_ref.py --default [tests/data/retnet_ref_default.bin]

The model, exactly as retnet.c (see the math comment at its top):
    x = wte[tok];  per layer: h = rms(x)*ln1; [q k v g] = h W1; rotary on q, k (k / sqrt(e));
    o_n = sum_{m<=n} gamma^(n-m) (q_n . k_m) v_m per head; group norm per head (no affine);
    x += (silu(g) * o) Wo;  x += gelu_tanh(rms(x)*ln2 Wf1) Wf2;  logits = rms(x)*lnf Wout.
Parameter layout (flat): wte V*D | per layer ln1 D, W1 D*4D, Wo D*D, ln2 D, Wf1 D*F,
Wf2 F*D | lnf D | Wout D*V.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as Fn

DEFAULT = "--default" in sys.argv[1:]
if DEFAULT:  # retnet.c's fs_rn_default_config at V = 16 (K=8, hybrid vocabulary)
    V, D, L, H, F, T, B = 16, 16, 1, 2, 32, 64, 2
    GAMMA = [0.75, 0.9375]
else:
    V, D, L, H, F, T, B = 11, 8, 2, 2, 12, 6, 2
    GAMMA = [0.8, 0.9375]
ROPE_BASE, EPS = 10000.0, 1e-5
LR, B1, B2, AEPS, WD = 0.01, 0.9, 0.999, 1e-8, 0.1
E = D // H


def num_params():
    return V * D + L * (2 * D + 5 * D * D + 2 * D * F) + D + D * V


def views(p):
    i = 0

    def take(n, shape):
        nonlocal i
        t = p[i:i + n].view(*shape)
        i += n
        return t
    w = {"wte": take(V * D, (V, D)), "layers": []}
    for _ in range(L):
        w["layers"].append({
            "ln1": take(D, (D,)), "w1": take(4 * D * D, (D, 4 * D)),
            "wo": take(D * D, (D, D)), "ln2": take(D, (D,)),
            "wf1": take(D * F, (D, F)), "wf2": take(F * D, (F, D))})
    w["lnf"] = take(D, (D,))
    w["wout"] = take(D * V, (D, V))
    assert i == p.numel()
    return w


def rms(x, g):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * g


def rope(x, scale):
    # x: B,T,D; pairs (2i, 2i+1) inside each head, angle t * theta_i
    i = torch.arange(E // 2, dtype=torch.float64)
    theta = ROPE_BASE ** (-2.0 * i / E)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * theta[None, :]  # T, E/2
    c, s = torch.cos(ang), torch.sin(ang)
    xh = x.view(B, T, H, E // 2, 2)
    x0, x1 = xh[..., 0], xh[..., 1]
    c, s = c[None, :, None, :], s[None, :, None, :]
    y = torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)
    return y.reshape(B, T, D) * scale


def forward(p, inputs, targets):
    w = views(p)
    x = w["wte"][inputs]
    n = torch.arange(T)
    dist = (n[:, None] - n[None, :]).double()
    for lw in w["layers"]:
        h = rms(x, lw["ln1"])
        a = h @ lw["w1"]
        q, k, v, g = a.split(D, dim=-1)
        q = rope(q, 1.0)
        k = rope(k, 1.0 / E ** 0.5)
        qh = q.view(B, T, H, E).transpose(1, 2)
        kh = k.view(B, T, H, E).transpose(1, 2)
        vh = v.reshape(B, T, H, E).transpose(1, 2)
        gam = torch.tensor(GAMMA, dtype=torch.float64)[:, None, None]
        decay = torch.where(dist >= 0, gam ** dist.clamp(min=0), torch.zeros(()).double())
        o = ((qh @ kh.transpose(-1, -2)) * decay[None]) @ vh  # B,H,T,E
        mu = o.mean(-1, keepdim=True)
        var = ((o - mu) ** 2).mean(-1, keepdim=True)
        o = (o - mu) * torch.rsqrt(var + EPS)
        o = o.transpose(1, 2).reshape(B, T, D)
        x = x + (Fn.silu(g) * o) @ lw["wo"]
        x = x + Fn.gelu(rms(x, lw["ln2"]) @ lw["wf1"], approximate="tanh") @ lw["wf2"]
    logits = rms(x, w["lnf"]) @ w["wout"]
    loss = Fn.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=0)
    return logits, loss


def main():
    args = [a for a in sys.argv[1:] if a != "--default"]
    out = args[0] if args else ("tests/data/retnet_ref_default.bin" if DEFAULT
                                else "tests/data/retnet_ref.bin")
    torch.manual_seed(1234)
    n = num_params()
    # Gains near 1, matrices of the scale retnet.c's init uses.
    flat = torch.randn(n, dtype=torch.float64) * 0.5
    w = views(flat)
    for lw in w["layers"]:
        lw["ln1"].copy_(1.0 + 0.1 * torch.randn(D, dtype=torch.float64))
        lw["ln2"].copy_(1.0 + 0.1 * torch.randn(D, dtype=torch.float64))
    w["lnf"].copy_(1.0 + 0.1 * torch.randn(D, dtype=torch.float64))
    # round to float32 so C and reference start from identical numbers
    flat = flat.float().double()
    inputs = torch.randint(1, V, (B, T))
    targets = torch.randint(1, V, (B, T))
    targets[0, 2] = 0
    targets[1, 5] = 0
    p = flat.clone().requires_grad_(True)
    logits, loss = forward(p, inputs, targets)
    loss.backward()
    grads = p.grad.detach().clone()
    opt = torch.optim.AdamW([p], lr=LR, betas=(B1, B2), eps=AEPS, weight_decay=WD)
    opt.step()
    after = p.detach()

    def f32(t):
        return np.asarray(t.detach().reshape(-1).numpy(), dtype="<f4").tobytes()

    with open(out, "wb") as f:
        f.write(b"FSRNREF1")
        f.write(struct.pack("<7I", V, D, L, H, F, T, B))
        f.write(struct.pack("<%df" % H, *GAMMA))
        f.write(struct.pack("<2f", ROPE_BASE, EPS))
        f.write(struct.pack("<I", n))
        f.write(f32(flat))
        f.write(np.asarray(inputs.reshape(-1).numpy(), dtype="<i4").tobytes())
        f.write(np.asarray(targets.reshape(-1).numpy(), dtype="<i4").tobytes())
        f.write(f32(logits))
        f.write(struct.pack("<f", float(loss)))
        f.write(f32(grads))
        f.write(struct.pack("<5f", LR, B1, B2, AEPS, WD))
        f.write(f32(after))
    print("wrote %s: %d params, loss %.6f" % (out, n, float(loss)))


if __name__ == "__main__":
    main()
