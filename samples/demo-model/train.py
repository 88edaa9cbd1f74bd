#!/usr/bin/python3
# Trains Parley's demo model: a small Llama-architecture model (tied embeddings, GQA, SwiGLU, RMSNorm, RoPE)
# on the procedural village corpus written by corpus.ts. Plain PyTorch (Debian's python3-torch 1.13 works; CPU
# or CUDA), deterministic for a given seed on a given machine.
#
#   /usr/bin/python3 samples/demo-model/train.py [--steps N] [--corpus DIR] [--out DIR] [--threads T]
#
# The math is llama.cpp's `llama` architecture exactly, so the exported GGUF runs the same in Parley and llama.cpp:
#   x = embd[token]; per layer: h = x + Wo·attn(rope(Wq·rms(x)), rope(Wk·rms(x)), Wv·rms(x)); x = h + Wd·(silu(Wg·rms(h)) * Wu·rms(h))
#   logits = embd · rms(x)   (no output.weight: llama.cpp and Parley fall back to token_embd)
#   rms(x) = x / sqrt(mean(x²) + 1e-5) * w;  RoPE "normal" mode: adjacent pairs (2i, 2i+1) rotated by pos·10000^(-2i/d_head)
#   query head h uses KV head h // (n_head / n_head_kv)
#
# Training cost is dominated by the ~650-token persona prompt, identical for every sample of one NPC. So a batch
# holds samples of ONE NPC: the shared token prefix is run once (batch 1), and each sample's own tokens (the
# world state, turns, instruction and reply) attend to the prefix's keys/values plus their own, causally. This
# is the same function as running every full sequence separately, at a fraction of the cost. The loss is the
# cross-entropy of the reply tokens (and the final </s>); logits are only computed where there is a target.
#
# Output (DIR, default samples/demo-model/.cache/train): weights.bin (float32, little-endian, tensors in order)
# and weights.json (name, GGUF dims, offsets, hyper-parameters), read by export.ts; training-log.txt and loss.png
# next to this script.

import argparse, json, math, os, random, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = dict(n_vocab=32000, n_embd=128, n_layer=4, n_head=4, n_head_kv=2, n_ff=384, n_ctx=2048, rms_eps=1e-5, rope_base=10000.0)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, base):
    # x: (B, H, T, D); pos: (T,) absolute positions. Adjacent pairs, llama.cpp's normal mode.
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float32, device=x.device) / d)
    ang = pos.to(torch.float32)[:, None] * inv[None, :]
    c, s = torch.cos(ang), torch.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["n_embd"], c["n_embd"] // c["n_head"]
        self.c, self.hd = c, hd
        self.attn_norm = RMSNorm(d, c["rms_eps"])
        self.attn_q = nn.Linear(d, d, bias=False)
        self.attn_k = nn.Linear(d, c["n_head_kv"] * hd, bias=False)
        self.attn_v = nn.Linear(d, c["n_head_kv"] * hd, bias=False)
        self.attn_output = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["rms_eps"])
        self.ffn_gate = nn.Linear(d, c["n_ff"], bias=False)
        self.ffn_up = nn.Linear(d, c["n_ff"], bias=False)
        self.ffn_down = nn.Linear(c["n_ff"], d, bias=False)

    def qkv(self, x, pos):
        B, T, _ = x.shape
        c, hd = self.c, self.hd
        h = self.attn_norm(x)
        q = self.attn_q(h).view(B, T, c["n_head"], hd).transpose(1, 2)
        k = self.attn_k(h).view(B, T, c["n_head_kv"], hd).transpose(1, 2)
        v = self.attn_v(h).view(B, T, c["n_head_kv"], hd).transpose(1, 2)
        return rope(q, pos, c["rope_base"]), rope(k, pos, c["rope_base"]), v

    def attend(self, q, k, v, mask):
        g = self.c["n_head"] // self.c["n_head_kv"]
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        B, H, T, D = q.shape
        return (att @ v).transpose(1, 2).reshape(B, T, H * D)

    def ffn(self, x):
        h = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))

    def forward(self, xp, xs):
        # xp: shared prefix (1, P, d); xs: per-sample suffixes (B, S, d) at positions P..P+S-1.
        P, S, B = xp.shape[1], xs.shape[1], xs.shape[0]
        dev = xs.device
        qp, kp, vp = self.qkv(xp, torch.arange(P, device=dev))
        qs, ks, vs = self.qkv(xs, torch.arange(P, P + S, device=dev))
        causal_p = torch.ones(P, P, dtype=torch.bool, device=dev).tril()
        yp = self.attend(qp, kp, vp, causal_p)
        kk = torch.cat((kp.expand(B, -1, -1, -1), ks), dim=2)
        vv = torch.cat((vp.expand(B, -1, -1, -1), vs), dim=2)
        mask_s = torch.cat((torch.ones(S, P, dtype=torch.bool, device=dev), torch.ones(S, S, dtype=torch.bool, device=dev).tril()), dim=1)
        ys = self.attend(qs, kk, vv, mask_s)
        xp = self.ffn(xp + self.attn_output(yp))
        xs = self.ffn(xs + self.attn_output(ys))
        return xp, xs


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.token_embd = nn.Embedding(c["n_vocab"], c["n_embd"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.output_norm = RMSNorm(c["n_embd"], c["rms_eps"])
        nn.init.normal_(self.token_embd.weight, std=0.02)
        for b in self.blocks:
            for lin in (b.attn_q, b.attn_k, b.attn_v, b.ffn_gate, b.ffn_up):
                nn.init.normal_(lin.weight, std=0.02)
            for lin in (b.attn_output, b.ffn_down):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * c["n_layer"]))

    def hidden(self, prefix, suffix):
        xp, xs = self.token_embd(prefix), self.token_embd(suffix)
        for b in self.blocks:
            xp, xs = b(xp, xs)
        return self.output_norm(xs)

    def loss(self, prefix, suffix, targets):
        # targets: (B, S) next-token ids, -1 where there is no target.
        h = self.hidden(prefix, suffix)
        sel = targets >= 0
        logits = h[sel] @ self.token_embd.weight.t()
        return F.cross_entropy(logits, targets[sel], reduction="sum"), int(sel.sum())

    def gguf_tensors(self):
        """(GGUF name, GGUF dims [ne0, ne1, …], float32 tensor) in file order. PyTorch [out, in] == GGUF [in, out]."""
        out = [("token_embd.weight", [self.c["n_embd"], self.c["n_vocab"]], self.token_embd.weight), ("output_norm.weight", [self.c["n_embd"]], self.output_norm.weight)]
        for i, b in enumerate(self.blocks):
            for name in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"):
                w = getattr(b, name).weight
                out.append((f"blk.{i}.{name}.weight", list(reversed(w.shape)), w))
        return out


def load_corpus(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                rows.append((d["npc"], d["prompt"], d["reply"]))
    return rows


def common_prefix(seqs):
    first = seqs[0]
    n = len(first)
    for s in seqs[1:]:
        m = 0
        while m < n and m < len(s) and s[m] == first[m]:
            m += 1
        n = m
    return n


class Batches:
    """Samples grouped by NPC; each group's shared token prefix (minus one token, so every suffix is non-empty)."""

    def __init__(self, rows, prefix_len=None):
        self.groups = {}
        for npc, prompt, reply in rows:
            self.groups.setdefault(npc, []).append(prompt + reply)
        self.reply_len = {}
        self.prefix_len = prefix_len or {npc: common_prefix(seqs) - 1 for npc, seqs in self.groups.items()}
        self.rows = rows

    def make(self, npc, items, reply_lens):
        p = self.prefix_len[npc]
        prefix = torch.tensor([items[0][:p]], dtype=torch.long)
        sufs = [s[p:] for s in items]
        S = max(len(s) for s in sufs)
        suffix = torch.zeros(len(items), S, dtype=torch.long)
        targets = torch.full((len(items), S), -1, dtype=torch.long)
        for i, (s, r) in enumerate(zip(sufs, reply_lens)):
            suffix[i, : len(s)] = torch.tensor(s)
            # position j predicts s[j+1]; the reply is the last r tokens of s.
            for j in range(len(s) - r - 1, len(s) - 1):
                targets[i, j] = s[j + 1]
        return prefix, suffix, targets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(HERE, ".cache/corpus"))
    ap.add_argument("--out", default=os.path.join(HERE, ".cache/train"))
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--log", default=os.path.join(HERE, "training-log.txt"))
    ap.add_argument("--plot", default=os.path.join(HERE, "loss.png"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--init", default="", help="continue from the weights.bin/weights.json of an earlier run in this folder (the log is appended to)")
    ap.add_argument("--max-minutes", type=float, default=0, help="time budget: the learning-rate schedule ends by then even if fewer steps fit; 0: no limit")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    os.makedirs(args.out, exist_ok=True)

    train = load_corpus(os.path.join(args.corpus, "train.jsonl"))
    held = load_corpus(os.path.join(args.corpus, "heldout.jsonl"))
    tb = Batches(train)
    hb = Batches(held, prefix_len=tb.prefix_len)
    by_npc = {}
    for npc, prompt, reply in train:
        by_npc.setdefault(npc, []).append((prompt + reply, len(reply)))
    held_by_npc = {}
    for npc, prompt, reply in held:
        held_by_npc.setdefault(npc, []).append((prompt + reply, len(reply)))
    npcs = sorted(by_npc)

    model = Llama(CONFIG).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    earlier_steps = 0
    if args.init:
        # A second phase of a run cut short by a time budget: the same tensors, in the order export.ts reads them.
        with open(os.path.join(args.init, "weights.json")) as f:
            meta = json.load(f)
        with open(os.path.join(args.init, "weights.bin"), "rb") as f:
            blob = f.read()
        by_name = {t["name"]: t for t in meta["tensors"]}
        with torch.no_grad():
            for name, dims, w in model.gguf_tensors():
                t = by_name[name]
                src = torch.frombuffer(bytearray(blob[t["offset"] : t["offset"] + t["bytes"]]), dtype=torch.float32)
                w.copy_(src.view(w.shape))
        earlier_steps = int(meta.get("steps", 0))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        # On a shared or slow machine fewer steps may fit the time budget: the schedule follows whichever of
        # steps or time runs out first, so a run cut by the clock still ends with a decayed learning rate.
        if args.max_minutes and step > args.warmup:
            t = max(t, (time.time() - t_decay) / max(1.0, args.max_minutes * 60 - (t_decay - t0)))
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    def held_loss():
        model.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for npc, items in sorted(held_by_npc.items()):
                for k in range(0, len(items), args.batch):
                    chunk = items[k : k + args.batch]
                    p, s, t = hb.make(npc, [x for x, _ in chunk], [r for _, r in chunk])
                    l, c = model.loss(p.to(dev), s.to(dev), t.to(dev))
                    tot += float(l)
                    n += c
        model.train()
        return tot / max(1, n)

    log = open(args.log, "a" if args.init else "w")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    if args.init:
        say(f"# continued from {args.init} after {earlier_steps} steps: a new warmup and schedule over the same corpus")
    say(f"# Parley demo model training. config={json.dumps(CONFIG)} params={n_params} (tied output)")
    say(f"# corpus: {len(train)} train, {len(held)} held-out samples; shared prefix tokens {json.dumps(tb.prefix_len)}")
    say(f"# steps={args.steps} batch={args.batch} lr={args.lr} warmup={args.warmup} seed={args.seed} device={dev} threads={args.threads} torch={torch.__version__}")
    say("# step\tloss\tlr\telapsed_s\theldout_loss")
    rng = random.Random(args.seed)
    t0 = time.time()
    hist, hhist = [], []
    step = 0
    t_decay = t0
    for step in range(args.steps):
        if step == args.warmup:
            t_decay = time.time()
        npc = npcs[step % len(npcs)]
        chunk = [rng.choice(by_npc[npc]) for _ in range(args.batch)]
        p, s, t = tb.make(npc, [x for x, _ in chunk], [r for _, r in chunk])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        l, c = model.loss(p.to(dev), s.to(dev), t.to(dev))
        loss = l / c
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist.append((step, loss.item()))
        hl = ""
        if (step + 1) % args.eval_every == 0 or step == args.steps - 1:
            h = held_loss()
            hhist.append((step, h))
            hl = f"{h:.4f}"
        say(f"{step}\t{hist[-1][1]:.4f}\t{lr_at(step):.6f}\t{time.time() - t0:.1f}\t{hl}")
        if args.max_minutes and time.time() - t0 > args.max_minutes * 60:
            say(f"# stopped at the time limit ({args.max_minutes} min), the learning rate decayed")
            if not hl:
                h = held_loss()
                hhist.append((step, h))
                say(f"{step}\t\t\t{time.time() - t0:.1f}\t{h:.4f}")
            break
    elapsed = time.time() - t0
    say(f"# done: {step + 1} steps in {elapsed:.0f} s; final train loss (mean of last 20) {sum(x for _, x in hist[-20:]) / len(hist[-20:]):.4f}; held-out loss {hhist[-1][1]:.4f} (perplexity {math.exp(hhist[-1][1]):.3f})")
    log.close()

    # Weights for export.ts.
    tensors, off = [], 0
    with open(os.path.join(args.out, "weights.bin"), "wb") as f:
        for name, dims, w in model.gguf_tensors():
            data = w.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
            f.write(data)
            tensors.append({"name": name, "dims": dims, "offset": off, "bytes": len(data)})
            off += len(data)
    with open(os.path.join(args.out, "weights.json"), "w") as f:
        json.dump({"config": CONFIG, "params": n_params, "steps": earlier_steps + step + 1, "seed": args.seed, "tensors": tensors}, f, indent=1)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        xs = [s for s, _ in hist]
        ys = [v for _, v in hist]
        k = 20
        smooth = [sum(ys[max(0, i - k + 1) : i + 1]) / len(ys[max(0, i - k + 1) : i + 1]) for i in range(len(ys))]
        ax.plot(xs, ys, color="#bbb", lw=0.7, label="train loss (per step)")
        ax.plot(xs, smooth, color="#1f77b4", lw=1.5, label="train loss (mean of 20)")
        ax.plot([s for s, _ in hhist], [v for _, v in hhist], "o-", color="#d62728", ms=3, label="held-out loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy of reply tokens (nats)")
        ax.set_yscale("log")
        ax.set_title(f"Parley demo model ({n_params / 1e6:.1f}M params), {elapsed / 60:.1f} min")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot)
    except ImportError as e:
        print(f"no plot: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
