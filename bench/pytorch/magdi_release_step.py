#!/usr/bin/python3
"""The released MAGDi training recipe in plain PyTorch, for the training-step benchmark.

A compact Llama-style decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU), LoRA on q_proj/v_proj
(r 16, alpha 32, dropout 0.05), the contrastive scorer and a 2-layer GCN head, trained the way the authors' code does:
inside each MAG the positive (correct) and negative (incorrect) chains are paired one to one, the smaller group repeated
cyclically; every pair is a row; the positive and the negative sequence of each row get their own forward pass (so a
positive is encoded again for every pair it is in); next-token loss on the positive rows (prompt included), margin
ranking loss on the scorer outputs (weight 0.1), node classification on frozen node features precomputed by the base
model (12 padded nodes, 3 classes). Self-contained: needs only torch (Debian python3-torch 1.13 works).

Reads the MAG batch exported by bench/MagDi.Bench.Training (token ids per node, correctness, edges) so both sides
train on identical sequences; writes MAGs/s, tokens/s and step time as JSON.

Usage: /usr/bin/python3 bench/pytorch/magdi_release_step.py --data mags.json --dtype f32|bf16 --out result.json
       [--batch 4] [--threads 2] [--warmup-epochs 1] [--timed-epochs 2] [--seed 11] [--profile]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_NODES = 12  # the release pads every MAG to 12 nodes
PAD_CLASS = 2   # node classes: 0 correct, 1 incorrect, 2 missing node


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class LoraLinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update B A x * alpha / r (PEFT's LoRA; A Kaiming, B zero)."""

    def __init__(self, base, r=16, alpha=32, dropout=0.05):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        update = (self.dropout(x).float() @ self.lora_A.t() @ self.lora_B.t()) * self.scaling
        return self.base(x) + update.to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.h = cfg["num_attention_heads"]
        self.kv = cfg.get("num_key_value_heads") or self.h
        self.hd = d // self.h
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)    # [B, H, T, hd]
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)   # [B, KV, T, hd]
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv != self.h:
            k = k.repeat_interleave(self.h // self.kv, dim=1)
            v = v.repeat_interleave(self.h // self.kv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask    # [B, H, T, T]
        y = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        eps = cfg.get("rms_norm_eps", 1e-5)
        self.input_layernorm = RMSNorm(cfg["hidden_size"], eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], eps)
        self.mlp = Mlp(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], d)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(d, cfg.get("rms_norm_eps", 1e-5))
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, attn):
        """ids, attn: [B, T] right-padded. Returns logits [B, T, V] and the last hidden state [B, T, d]."""
        b, t = ids.shape
        x = self.embed_tokens(ids)
        hd = self.cfg["hidden_size"] // self.cfg["num_attention_heads"]
        theta = self.cfg.get("rope_theta", 10000.0)
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)                    # [T, hd]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        allowed = causal[None, None] & attn[:, None, None, :].bool()              # [B, 1, T, T]
        mask = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, torch.finfo(x.dtype).min)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        h = self.norm(x)
        return self.lm_head(h), h


def apply_lora(model, targets=("q_proj", "v_proj")):
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.layers:
        for name in targets:
            setattr(block.self_attn, name, LoraLinear(getattr(block.self_attn, name)))


def weighted_mean(h, attn):
    """Position-weighted mean over non-padding tokens, weights 1..T (the release's sequence representation)."""
    w = torch.cumsum(attn, dim=1).float() * attn.float()                    # [B, T]
    return (h.float() * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-9)


class Scorer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1), nn.Tanh())

    def forward(self, x):
        return self.net(x).squeeze(-1)


class DenseGcn(nn.Module):
    """Two GCN layers (symmetric normalisation with self loops, as PyG's GCNConv), ReLU, dropout 0.5, 3 classes."""

    def __init__(self, d, hidden=512, classes=3):
        super().__init__()
        self.w1 = nn.Linear(d, hidden)
        self.w2 = nn.Linear(hidden, classes)

    def forward(self, x, a_hat):
        h = F.dropout(F.relu(a_hat @ self.w1(x)), 0.5, self.training)
        return a_hat @ self.w2(h)


def normalised_adjacency(n, edges):
    a = torch.eye(n)
    for s, t in edges:
        a[t, s] = 1.0  # message from source to target
    deg = a.sum(1)
    d = deg.pow(-0.5)
    return d[:, None] * a * d[None, :]


def pad(seqs, pad_id):
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), t), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        attn[i, : len(s)] = 1
    return ids, attn


def release_rows(mag, placeholder):
    """Pairs inside one MAG, the smaller group repeated cyclically; a placeholder negative when there is none."""
    pos = [n["ids"] for n in mag["nodes"] if n["correct"]]
    neg = [n["ids"] for n in mag["nodes"] if not n["correct"]]
    if not pos:
        return []
    if not neg:
        neg = [placeholder]
    m = max(len(pos), len(neg))
    return [(pos[i % len(pos)], neg[i % len(neg)]) for i in range(m)]


def gemm_gflops(dtype, d, f, v):
    """Best GEMM throughput over the model's shapes (2048 tokens x d -> f, f -> d, d -> vocab), for context."""
    best = 0.0
    for k, n in ((d, f), (f, d), (d, v)):
        a, b = torch.randn(2048, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        a @ b
        for _ in range(3):
            t = time.perf_counter()
            a @ b
            best = max(best, 2 * 2048 * k * n / (time.perf_counter() - t) / 1e9)
    return best


def loaded_blas():
    """The BLAS library this process actually mapped (Debian's torch calls whatever libblas.so.3 resolves to)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(libs)
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-epochs", type=int, default=1)
    ap.add_argument("--timed-epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--profile", action="store_true", help="print where the time of a step goes")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = json.load(open(args.data))
    cfg, pad_id, mags = data["config"], data["pad_id"], data["mags"]
    eos = cfg.get("eos_token_id", 2)
    placeholder = [cfg.get("bos_token_id", 1), eos]  # a <=5-token row: dropped from the margin loss, still forwarded
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32

    model = Llama(cfg).to(dtype)
    apply_lora(model)  # LoRA weights stay f32
    d = cfg["hidden_size"]

    # Frozen node features, precomputed once by the base model before training (the release's behaviour).
    model.eval()
    features = []
    with torch.no_grad():
        for mag in mags:
            ids, attn = pad([n["ids"] for n in mag["nodes"]], pad_id)
            _, h = model(ids, attn)
            x = torch.zeros(MAX_NODES, d)
            x[: len(mag["nodes"])] = weighted_mean(h, attn)
            features.append(x)
    graphs = []
    for mag in mags:
        n = len(mag["nodes"])
        labels = torch.full((MAX_NODES,), PAD_CLASS, dtype=torch.long)
        labels[:n] = torch.tensor([0 if x["correct"] else 1 for x in mag["nodes"]])
        graphs.append((normalised_adjacency(MAX_NODES, mag["edges"]), labels))

    scorer, gcn = Scorer(d), DenseGcn(d)
    model.train(), scorer.train(), gcn.train()
    params = [p for p in model.parameters() if p.requires_grad] + list(scorer.parameters()) + list(gcn.parameters())
    opt = torch.optim.AdamW(params, lr=5e-6, weight_decay=0.0)

    # Same batches as MagDi's trainer: MAGs sorted by their longest node, then chunked (length bucketing).
    order = sorted(range(len(mags)), key=lambda i: max(len(n["ids"]) for n in mags[i]["nodes"]))
    batches = [order[i: i + args.batch] for i in range(0, len(order), args.batch)]
    prof = {"forward_pos": 0.0, "forward_neg": 0.0, "losses": 0.0, "backward": 0.0, "optimizer": 0.0}

    def step(batch):
        rows = [r for i in batch for r in release_rows(mags[i], placeholder)]
        t0 = time.perf_counter()
        pos_ids, pos_attn = pad([p for p, _ in rows], pad_id)
        neg_ids, neg_attn = pad([n for _, n in rows], pad_id)
        logits, h_pos = model(pos_ids, pos_attn)                 # positive sequence of every row
        t1 = time.perf_counter()
        _, h_neg = model(neg_ids, neg_attn)                      # negative sequence of every row (separate pass)
        t2 = time.perf_counter()
        labels = pos_ids.masked_fill(pos_attn == 0, -100)[:, 1:]
        lm = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        s_pos, s_neg = scorer(weighted_mean(h_pos, pos_attn)), scorer(weighted_mean(h_neg, neg_attn))
        keep = neg_attn.sum(1) > 5
        margin = F.margin_ranking_loss(s_pos[keep], s_neg[keep], torch.ones(int(keep.sum())), margin=1.0) if keep.any() else s_pos.sum() * 0
        x = torch.stack([features[i] for i in batch])             # [G, 12, d] frozen
        a = torch.stack([graphs[i][0] for i in batch])            # [G, 12, 12]
        y = torch.cat([graphs[i][1] for i in batch])
        node = F.cross_entropy(gcn(x, a).reshape(-1, 3), y)
        loss = lm + node + 0.1 * margin
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t5 = time.perf_counter()
        for k, dt in zip(prof, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            prof[k] += dt
        forwarded = int(pos_attn.sum() + neg_attn.sum())
        return t5 - t0, forwarded, float(loss)

    for _ in range(args.warmup_epochs):
        for b in batches:
            step(b)
    for k in prof:
        prof[k] = 0.0
    times, forwarded, loss = [], 0, float("nan")
    for _ in range(args.timed_epochs):
        for b in batches:
            t, f, loss = step(b)
            times.append(t)
            forwarded += f
    seconds = sum(times)
    mag_tokens = sum(len(n["ids"]) for m in mags for n in m["nodes"])
    result = {
        "mags_per_second": args.timed_epochs * len(mags) / seconds,
        "tokens_per_second": args.timed_epochs * mag_tokens / seconds,
        "forwarded_tokens_per_second": forwarded / seconds,
        "step_time_ms": 1000 * seconds / len(times),
        "final_loss": loss,
        "torch_version": torch.__version__,
        "blas": loaded_blas(),
        "gemm_gflops": round(gemm_gflops(dtype, cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]), 1),
        "threads": torch.get_num_threads(),
        "profile_seconds": {k: round(v, 4) for k, v in prof.items()},
    }
    if args.profile:
        print(json.dumps(result, indent=2))
    json.dump(result, open(args.out, "w"))


if __name__ == "__main__":
    main()
