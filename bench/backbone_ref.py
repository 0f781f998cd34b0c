"""The tiny_vlm qwen family in eager PyTorch, as a competent user would write it.

The reference side of bench/backbone_compare.py: the same dims and parameter
names as plugins/tiny_vlm (weights load from the C++ model's
model.safetensors), attention through F.scaled_dot_product_attention with
grouped-query heads, a KV cache preallocated for the whole generation, image
features computed once per prompt and shared by its n samples, and
torch.optim.AdamW (the same single-tensor update LibTorch's AdamW does).

    python bench/backbone_ref.py DIR   # prints JSON: the timings of one run
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn


def mask_value(dtype):
    return torch.finfo(dtype).min


def rope_factors(angles):
    """Complex rotation factors exp(i * angles) [.., hd/2] (float64 angles, complex64 tables)."""
    a = angles.to(torch.float32)
    return torch.polar(torch.ones_like(a), a)


def apply_rope(x, factors):
    """Rotates the pairs (x[2i], x[2i+1]) of x [B,T,N,hd] by factors [B|1,T,1,hd/2] (as Meta's Llama does)."""
    return torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (-1, 2))) * factors).flatten(-2)


class Attention(nn.Module):
    def __init__(self, dim, heads, kv_heads, qkv_bias, out_bias):
        super().__init__()
        self.h, self.kv, self.hd = heads, kv_heads, dim // heads
        self.qkv_proj = nn.Linear(dim, (heads + 2 * kv_heads) * self.hd, bias=qkv_bias)
        self.o_proj = nn.Linear(heads * self.hd, dim, bias=out_bias)

    def forward(self, x, rope, mask=None, causal=False, cache=None, offset=0):
        b, t, _ = x.shape
        h, kv, hd = self.h, self.kv, self.hd
        qkv = self.qkv_proj(x).view(b, t, h + 2 * kv, hd)
        qk, v = qkv[:, :, : h + kv], qkv[:, :, h + kv :]
        if rope is not None:
            qk = apply_rope(qk, rope)
        q = qk[:, :, :h].transpose(1, 2)
        k = qk[:, :, h:].transpose(1, 2)
        v = v.transpose(1, 2)
        if cache is not None:
            ck, cv = cache
            ck[:, :, offset : offset + t] = k
            cv[:, :, offset : offset + t] = v
            k, v = ck[:, :, : offset + t], cv[:, :, : offset + t]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                             enable_gqa=kv != h)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, h * hd))


class SwiGlu(nn.Module):
    def __init__(self, dim, hidden, bias):
        super().__init__()
        self.gate_up_proj = nn.Linear(dim, 2 * hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x):
        g, u = self.gate_up_proj(x).chunk(2, -1)
        return self.down_proj(F.silu(g) * u)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class DecoderLayer(nn.Module):
    def __init__(self, dim, heads, kv_heads, inter, qkv_bias, out_bias, mlp_bias, eps):
        super().__init__()
        self.input_layernorm = RMSNorm(dim, eps)
        self.self_attn = Attention(dim, heads, kv_heads, qkv_bias, out_bias)
        self.post_attention_layernorm = RMSNorm(dim, eps)
        self.mlp = SwiGlu(dim, inter, mlp_bias)

    def forward(self, x, rope, mask=None, causal=False, cache=None, offset=0):
        h = x + self.self_attn(self.input_layernorm(x), rope, mask, causal, cache, offset)
        return h + self.mlp(self.post_attention_layernorm(h))


class Merger(nn.Module):
    def __init__(self, vd, td, m, eps):
        super().__init__()
        w = vd * m * m
        self.m = m
        self.ln_q = RMSNorm(vd, eps)
        self.mlp = nn.Sequential(nn.Linear(w, w), nn.GELU(), nn.Linear(w, td))

    def forward(self, x, grid):
        b, _, d = x.shape
        m, gm = self.m, grid // self.m
        x = self.ln_q(x).view(b, gm, m, gm, m, d).permute(0, 1, 3, 2, 4, 5).reshape(b, gm * gm, m * m * d)
        return self.mlp(x)


class Vision(nn.Module):
    def __init__(self, c):
        super().__init__()
        v = c["vision_config"]
        self.p, self.grid = c["patch_size"], c["image_size"] // c["patch_size"]
        vd, heads = v["hidden_size"], v["num_attention_heads"]
        self.patch_embed = nn.Linear(3 * self.p * self.p, vd, bias=False)
        self.blocks = nn.ModuleList(
            DecoderLayer(vd, heads, heads, v["intermediate_size"], True, True, True, v["norm_eps"])
            for _ in range(v["num_hidden_layers"]))
        self.merger = Merger(vd, c["text_config"]["hidden_size"], c["merge_size"], v["norm_eps"])
        hd, g = vd // heads, self.grid
        quarter = hd // 4
        inv = v["rope_theta"] ** (-torch.arange(0, quarter, dtype=torch.float64) * 2.0 / (hd / 2.0))
        idx = torch.arange(g * g, dtype=torch.float64)
        rows = torch.floor(idx / g)
        cols = idx - rows * g
        angles = torch.cat([rows[:, None] * inv, cols[:, None] * inv], 1)
        self.rope = rope_factors(angles)[None, :, None]

    def forward(self, pixels):
        b, ch, s, _ = pixels.shape
        g, p = self.grid, self.p
        x = pixels.view(b, ch, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, ch * p * p)
        x = self.patch_embed(x)
        for blk in self.blocks:
            x = blk(x, self.rope)
        return self.merger(x, g)


class TextModel(nn.Module):
    def __init__(self, t):
        super().__init__()
        d, heads, kv = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
        self.embed_tokens = nn.Embedding(t["vocab_size"], d)
        self.layers = nn.ModuleList(
            DecoderLayer(d, heads, kv, t["intermediate_size"], True, False, False, t["rms_norm_eps"])
            for _ in range(t["num_hidden_layers"]))
        self.norm = RMSNorm(d, t["rms_norm_eps"])

    def forward(self, x, rope, mask=None, causal=False, cache=None, offset=0):
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, mask, causal, cache[i] if cache is not None else None, offset)
        return self.norm(x)


class TinyVlm(nn.Module):
    def __init__(self, c):
        super().__init__()
        t = c["text_config"]
        self.c = c
        self.visual = Vision(c)
        self.model = TextModel(t)
        self.image_token_id = c["image_token_id"]
        self.embed_scale = math.sqrt(t["hidden_size"]) if t["scale_embeddings"] else 1.0
        hd = t["hidden_size"] // t["num_attention_heads"]
        self.kv, self.hd = t["num_key_value_heads"], hd
        inv = t["rope_theta"] ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd)
        pos = torch.arange(t["max_position_embeddings"], dtype=torch.float64)
        self.rope_table = rope_factors(pos[:, None] * inv[None])

    def image_features(self, images):
        return self.visual((images - 0.5) * 2.0)

    def embed(self, ids, features=None):
        x = self.model.embed_tokens(ids) * self.embed_scale
        if features is not None:
            x = x.masked_scatter((ids == self.image_token_id).unsqueeze(-1), features.to(x.dtype))
        return x

    def rope(self, positions):
        return self.rope_table[positions].unsqueeze(2)

    def logits(self, h):
        return F.linear(h, self.model.embed_tokens.weight)

    def forward(self, ids, attention_mask, features):
        """Logits [B,T,V]; features [B, image tokens, D] (already shared across a group)."""
        b, t = ids.shape
        x = self.embed(ids, features)
        positions = (attention_mask.cumsum(1) - 1).clamp_min(0)
        if bool(attention_mask.all()):
            h = self.model(x, self.rope(positions), causal=True)
        else:
            allowed = torch.ones(t, t, dtype=torch.bool).tril() & attention_mask.bool()[:, None, :]
            mask = torch.zeros(b, 1, t, t, dtype=x.dtype).masked_fill_(~allowed[:, None], mask_value(x.dtype))
            h = self.model(x, self.rope(positions), mask)
        return self.logits(h)

    @torch.inference_mode()
    def generate(self, ids, attention_mask, features, new_tokens, gen, stops):
        """Samples new_tokens per left-padded prompt at temperature 1 -> tokens, logprobs, lengths."""
        b, t0 = ids.shape
        cap = t0 + new_tokens
        cache = [(torch.empty(b, self.kv, cap, self.hd), torch.empty(b, self.kv, cap, self.hd))
                 for _ in self.model.layers]
        key_mask = torch.zeros(b, 1, 1, cap)
        key_mask[:, 0, 0, :t0].masked_fill_(attention_mask == 0, mask_value(torch.float32))
        positions = (attention_mask.cumsum(1) - 1).clamp_min(0)
        allowed = torch.ones(t0, t0, dtype=torch.bool).tril() & attention_mask.bool()[:, None, :]
        mask = torch.zeros(b, 1, t0, t0).masked_fill_(~allowed[:, None], mask_value(torch.float32))
        h = self.model(self.embed(ids, features), self.rope(positions), mask, cache=cache)
        logits = self.logits(h[:, -1])
        pos = attention_mask.sum(1)
        tokens = torch.zeros(b, new_tokens, dtype=torch.long)
        logprobs = torch.zeros(b, new_tokens)
        done = torch.zeros(b, dtype=torch.bool)
        lengths = torch.zeros(b, dtype=torch.long)
        steps = 0
        for step in range(new_tokens):
            lse = logits.logsumexp(-1, keepdim=True)
            noise = torch.empty_like(logits).exponential_(generator=gen)
            tok = (logits.softmax(-1) / noise).argmax(-1)
            tok.masked_fill_(done, 0)
            tokens[:, step] = tok
            logprobs[:, step] = (logits.gather(-1, tok[:, None]) - lse).squeeze(-1).masked_fill_(done, 0.0)
            lengths += ~done
            done |= torch.isin(tok, stops)
            steps = step + 1
            if steps == new_tokens or bool(done.all()):
                break
            length = t0 + step
            x = self.embed(tok[:, None])
            h = self.model(x, self.rope(pos[:, None]), key_mask[..., : length + 1], cache=cache, offset=length)
            pos += 1
            logits = self.logits(h[:, 0])
        return tokens[:, :steps], logprobs[:, :steps], lengths


def token_logprobs(logits, ids, mask):
    """log p(x_t | x_<t) [B,T-1] of the batch's own tokens, 0 on padding."""
    pred = logits[:, :-1].float()
    lp = pred.gather(-1, ids[:, 1:, None]).squeeze(-1) - pred.logsumexp(-1)
    return lp * mask[:, 1:]
