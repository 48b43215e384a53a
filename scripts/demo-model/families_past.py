"""KV-cache ("with past") versions of the tiny families, for the real-exporter fixtures.

Written for polyprune (build-time only); used by real_exports.py. The building blocks (Conv1D,
gelu_new, BloomGelu, ALiBi slopes, the sinusoidal table, RMSNorm) come from families.py; with an empty
cache a model here computes the same function as its families.py counterpart (up to float rounding).

Each top-level model has an `io` attribute that selects the call signature torch.onnx.export traces.
It is an attribute of the top-level module, not a wrapper module, because torch names the ONNX nodes
after the module path from the top (`/model/layers.0/self_attn/q_proj/MatMul`); a wrapper would add a
prefix that no real exporter writes.

  io="plain"      (input_ids, attention_mask) -> logits            the reference layout (families.py style);
                  called with input_ids alone, a mask of ones (the reference's model(input_ids))
  LLaMA  "no_past"   (input_ids, attention_mask, position_ids) -> logits, present.*   optimum decoder_model
  LLaMA  "with_past" (input_ids, attention_mask, position_ids, past.*) -> same        optimum decoder_with_past_model
  GPT-2  "optimum"   (input_ids, past.*, attention_mask, position_ids) -> logits, present.*
  BLOOM  "optimum"   (input_ids, past.*, attention_mask) -> logits, present.* (old split BLOOM cache)
  GPT-2 / XGLM "stacked"  (input_ids, past_0, past_1, ...) -> logits | last_state, present_0, ...

Argument orders follow the Hugging Face forward() signatures, because optimum orders the ONNX inputs
that way (`OnnxConfig.ordered_inputs`): LlamaForCausalLM(input_ids, attention_mask, position_ids,
past_key_values), GPT2LMHeadModel(input_ids, past_key_values, attention_mask, ..., position_ids),
BloomForCausalLM(input_ids, past_key_values, attention_mask).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from families import (
    NEG,
    BloomGelu,
    Conv1D,
    LlamaRMSNorm,
    alibi_slopes,
    gelu_new,
    sinusoidal_table,
)


def past_length(past):
    """Length of the cached sequence (0 without a cache); a traced value when the cache is an input."""
    if past is None:
        return 0
    return past[0][0].shape[2]


def allowed_keys(q_len, past_len, attention_mask=None):
    """[b|1, 1, q, past+q] bool: query i (absolute position past+i) sees key j <= past+i that is not padding."""
    q_pos = torch.arange(q_len) + past_len
    k_pos = torch.arange(q_len + past_len)
    allowed = (k_pos[None, :] <= q_pos[:, None])[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].bool()
    return allowed


def plain_mask(input_ids, rest):
    """The plain layout's mask: the one passed, or, called as model(input_ids) with none, a mask of ones
    (what transformers builds for a call without attention_mask)."""
    return rest[0] if rest else torch.ones_like(input_ids)


def additive(allowed):
    return torch.where(allowed, torch.zeros((), dtype=torch.float32), torch.full((), NEG, dtype=torch.float32))


def split_heads(x, n_heads, head_dim):
    """[b, s, n*hd] -> [b, n, s, hd]. Head count and size are Python ints, as in HF's code, so the
    exported graph keeps them static (cache shapes [batch_size, heads, past, head_dim])."""
    return x.view(x.shape[0], x.shape[1], n_heads, head_dim).transpose(1, 2)


def rotate_half(x, head_dim):
    """families.rotate_half with the half size as a Python int (keeps head_dim static, see split_heads)."""
    half = head_dim // 2
    return torch.cat([-x[..., half:head_dim], x[..., :half]], dim=-1)


def attend(q, k, v, mask, scale, width):
    """q [b, h, s, hd], k/v [b, h, T, hd] -> [b, s, width = h*hd]."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + mask
    out = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2)
    return out.reshape(out.shape[0], out.shape[1], width)


def flat(presents):
    return [t for kv in presents for t in kv]


def pairs(tensors):
    return [(tensors[2 * i], tensors[2 * i + 1]) for i in range(len(tensors) // 2)]


def init_weights(model, seed):
    """Random but non-degenerate weights, as fixtures.py: norms around 1, small non-zero biases."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.05 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2)
    return model


# ----------------------------------------------------------------------------------------------- GPT-2
class GPT2Attention(nn.Module):
    def __init__(self, d, n_heads, matmul):
        super().__init__()
        self.d, self.n_heads = d, n_heads
        self.c_attn = Conv1D(3 * d, d, matmul)
        self.c_proj = Conv1D(d, d, matmul)

    def forward(self, x, mask, past=None):
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        q, k, v = (split_heads(t, self.n_heads, self.d // self.n_heads) for t in (q, k, v))
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        out = attend(q, k, v, mask, 1.0 / math.sqrt(self.d // self.n_heads), self.d)
        return self.c_proj(out), (k, v)


class GPT2MLP(nn.Module):
    def __init__(self, d, inner, matmul):
        super().__init__()
        self.c_fc = Conv1D(inner, d, matmul)
        self.c_proj = Conv1D(d, inner, matmul)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, d, n_heads, matmul):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = GPT2Attention(d, n_heads, matmul)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = GPT2MLP(d, 4 * d, matmul)

    def forward(self, x, mask, past=None):
        a, present = self.attn(self.ln_1(x), mask, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT2Model(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, n_positions, matmul):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_positions, d)
        self.h = nn.ModuleList([GPT2Block(d, n_heads, matmul) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None):
        s = input_ids.size(1)
        p = past_length(past)
        if position_ids is None:  # HF's default: positions continue after the cache, padding ignored
            position_ids = (torch.arange(s) + p).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(position_ids)
        mask = additive(allowed_keys(s, p, attention_mask))
        presents = []
        for i, block in enumerate(self.h):
            x, kv = block(x, mask, None if past is None else past[i])
            presents.append(kv)
        return self.ln_f(x), presents


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, n_positions=128, matmul=False):
        super().__init__()
        self.n_layers = n_layers
        self.io = "plain"
        self.transformer = GPT2Model(vocab, d, n_layers, n_heads, n_positions, matmul)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, input_ids, *rest):
        if self.io == "plain":
            h, _ = self.transformer(input_ids, plain_mask(input_ids, rest))
            return self.lm_head(h)
        if self.io == "optimum":  # input_ids, past_key_values.*, attention_mask, position_ids
            n = 2 * self.n_layers
            past, (attention_mask, position_ids) = pairs(rest[:n]), rest[n:]
            h, presents = self.transformer(input_ids, attention_mask, position_ids, past)
            return (self.lm_head(h), *flat(presents))
        if self.io == "stacked":  # input_ids, past_0 .. past_{L-1}, each [2, b, h, past, hd]; no mask
            past = [(p[0], p[1]) for p in rest]
            h, presents = self.transformer(input_ids, None, None, past)
            return (self.lm_head(h), *[torch.stack([k, v]) for k, v in presents])
        raise ValueError(self.io)


# ----------------------------------------------------------------------------------------------- BLOOM
class BloomAttention(nn.Module):
    """BLOOM attention as transformers < 4.44 wrote it: the cache keeps keys as [b*h, hd, T] and
    values as [b*h, T, hd], scores come from alibi.baddbmm, masking is a masked_fill with finfo.min."""

    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d // n_heads
        self.inv_norm_factor = 1.0 / math.sqrt(self.head_dim)
        self.query_key_value = nn.Linear(d, 3 * d, bias=True)
        self.dense = nn.Linear(d, d, bias=True)

    def forward(self, x, blocked, alibi, past=None):
        b, s, _ = x.shape
        h, hd = self.n_heads, self.head_dim
        fused = self.query_key_value(x).view(b, s, h, 3, hd)
        q = fused[..., 0, :].transpose(1, 2).reshape(b * h, s, hd)
        k = fused[..., 1, :].permute(0, 2, 3, 1).reshape(b * h, hd, s)
        v = fused[..., 2, :].transpose(1, 2).reshape(b * h, s, hd)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=1)
        t = k.shape[2]
        scores = alibi.baddbmm(batch1=q, batch2=k, beta=1.0, alpha=self.inv_norm_factor)
        scores = scores.view(b, h, s, t).masked_fill(blocked, NEG)
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).view(b * h, s, t)
        ctx = torch.bmm(probs, v).view(b, h, s, hd).permute(0, 2, 1, 3).reshape(b, s, h * hd)
        return self.dense(ctx), (k, v)


class BloomMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(d, 4 * d)
        self.gelu_impl = BloomGelu()
        self.dense_4h_to_h = nn.Linear(4 * d, d)

    def forward(self, x):
        return self.dense_4h_to_h(self.gelu_impl(self.dense_h_to_4h(x)))


class BloomBlock(nn.Module):
    def __init__(self, d, n_heads):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.self_attention = BloomAttention(d, n_heads)
        self.post_attention_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.mlp = BloomMLP(d)

    def forward(self, x, blocked, alibi, past=None):
        a, present = self.self_attention(self.input_layernorm(x), blocked, alibi, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class BloomModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.word_embeddings = nn.Embedding(vocab, d)
        self.word_embeddings_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.h = nn.ModuleList([BloomBlock(d, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def forward(self, input_ids, attention_mask, past=None):
        b, s = input_ids.shape
        p = past[0][1].shape[1] if past is not None else 0  # value cache: [b*h, past, hd]
        # build_alibi_tensor: key positions count only real tokens, over the whole (past + new) mask
        key_pos = ((attention_mask.cumsum(dim=-1) - 1) * attention_mask)[:, None, :]
        alibi = (self.slopes[None, :, None] * key_pos).reshape(b * self.n_heads, 1, attention_mask.shape[1])
        blocked = ~allowed_keys(s, p, attention_mask)
        x = self.word_embeddings_layernorm(self.word_embeddings(input_ids))
        presents = []
        for i, block in enumerate(self.h):
            x, kv = block(x, blocked, alibi, None if past is None else past[i])
            presents.append(kv)
        return self.ln_f(x), presents


class BloomForCausalLM(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4):
        super().__init__()
        self.n_layers = n_layers
        self.io = "plain"
        self.transformer = BloomModel(vocab, d, n_layers, n_heads)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.word_embeddings.weight  # tied

    def forward(self, input_ids, *rest):
        if self.io == "plain":
            h, _ = self.transformer(input_ids, plain_mask(input_ids, rest))
            return self.lm_head(h)
        if self.io == "optimum":  # input_ids, past_key_values.*, attention_mask (no position_ids: ALiBi)
            n = 2 * self.n_layers
            h, presents = self.transformer(input_ids, rest[n], pairs(rest[:n]))
            return (self.lm_head(h), *flat(presents))
        raise ValueError(self.io)


# ------------------------------------------------------------------------------------------------ XGLM
class XGLMSinusoidalPositionalEmbedding(nn.Module):
    def __init__(self, n_positions, d, offset=2):
        super().__init__()
        self.offset = offset
        self.register_buffer("weights", sinusoidal_table(n_positions + offset, d), persistent=False)

    def forward(self, seq_len, past_len=0):
        pos = torch.arange(seq_len) + past_len + self.offset
        return self.weights.index_select(0, pos).unsqueeze(0)


class XGLMAttention(nn.Module):
    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d // n_heads
        self.scaling = self.head_dim ** -0.5
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, mask, past=None):
        h, hd = self.n_heads, self.head_dim
        q = split_heads(self.q_proj(x) * self.scaling, h, hd)
        k = split_heads(self.k_proj(x), h, hd)
        v = split_heads(self.v_proj(x), h, hd)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        return self.out_proj(attend(q, k, v, mask, 1.0, h * hd)), (k, v)


class XGLMDecoderLayer(nn.Module):
    def __init__(self, d, n_heads, ffn):
        super().__init__()
        self.self_attn = XGLMAttention(d, n_heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x, mask, past=None):
        a, present = self.self_attn(self.self_attn_layer_norm(x), mask, past)
        x = x + a
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x)))), present


class XGLMModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, ffn, n_positions):
        super().__init__()
        self.embed_scale = math.sqrt(d)
        self.embed_tokens = nn.Embedding(vocab, d, padding_idx=1)
        self.embed_positions = XGLMSinusoidalPositionalEmbedding(n_positions, d)
        self.layers = nn.ModuleList([XGLMDecoderLayer(d, n_heads, ffn) for _ in range(n_layers)])
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, input_ids, attention_mask=None, past=None):
        s = input_ids.size(1)
        p = past_length(past)
        x = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions(s, p)
        mask = additive(allowed_keys(s, p, attention_mask))
        presents = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, mask, None if past is None else past[i])
            presents.append(kv)
        return self.layer_norm(x), presents


class XGLMBackbone(nn.Module):
    """XGLM without its LM head: the output is the last hidden state (after the final LayerNorm)."""

    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, ffn=128, n_positions=128):
        super().__init__()
        self.io = "plain"
        self.model = XGLMModel(vocab, d, n_layers, n_heads, ffn, n_positions)

    def forward(self, input_ids, *rest):
        if self.io == "plain":
            h, _ = self.model(input_ids, plain_mask(input_ids, rest))
            return h
        if self.io == "stacked":
            h, presents = self.model(input_ids, None, [(p[0], p[1]) for p in rest])
            return (h, *[torch.stack([k, v]) for k, v in presents])
        raise ValueError(self.io)


# ----------------------------------------------------------------------------------------------- LLaMA
class LlamaRotaryEmbedding(nn.Module):
    """cos/sin from the position_ids input (positions x inv_freq), so a cached step rotates by absolute position."""

    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, position_ids):
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]  # [b, s, hd/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]  # [b, 1, s, hd]


class LlamaAttention(nn.Module):
    def __init__(self, d, n_heads, n_kv):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = n_heads, n_kv, d // n_heads
        self.q_proj = nn.Linear(d, n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * self.head_dim, d, bias=False)

    def forward(self, x, mask, cos, sin, past=None):
        q = split_heads(self.q_proj(x), self.n_heads, self.head_dim)
        k = split_heads(self.k_proj(x), self.n_kv, self.head_dim)
        v = split_heads(self.v_proj(x), self.n_kv, self.head_dim)
        q = q * cos + rotate_half(q, self.head_dim) * sin
        k = k * cos + rotate_half(k, self.head_dim) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)  # the cache holds the kv heads (GQA), rotated keys, before repeat_kv
        rep = self.n_heads // self.n_kv
        b, t, hd = k.shape[0], k.shape[2], self.head_dim
        k = k[:, :, None].expand(b, self.n_kv, rep, t, hd).reshape(b, self.n_heads, t, hd)
        v = v[:, :, None].expand(b, self.n_kv, rep, t, hd).reshape(b, self.n_heads, t, hd)
        return self.o_proj(attend(q, k, v, mask, 1.0 / math.sqrt(self.head_dim), self.n_heads * hd)), present


class LlamaMLP(nn.Module):
    def __init__(self, d, inter):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=False)
        self.up_proj = nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, d, n_heads, n_kv, inter):
        super().__init__()
        self.self_attn = LlamaAttention(d, n_heads, n_kv)
        self.mlp = LlamaMLP(d, inter)
        self.input_layernorm = LlamaRMSNorm(d)
        self.post_attention_layernorm = LlamaRMSNorm(d)

    def forward(self, x, mask, cos, sin, past=None):
        a, present = self.self_attn(self.input_layernorm(x), mask, cos, sin, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, n_kv, inter):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([LlamaDecoderLayer(d, n_heads, n_kv, inter) for _ in range(n_layers)])
        self.norm = LlamaRMSNorm(d)
        self.rotary_emb = LlamaRotaryEmbedding(d // n_heads)

    def forward(self, input_ids, attention_mask, position_ids=None, past=None):
        s = input_ids.size(1)
        p = past_length(past)
        if position_ids is None:  # HF's default (cache_position): 0.. regardless of padding
            position_ids = (torch.arange(s) + p).unsqueeze(0).expand(input_ids.shape[0], s)
        cos, sin = self.rotary_emb(position_ids)
        mask = additive(allowed_keys(s, p, attention_mask))
        x = self.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, mask, cos, sin, None if past is None else past[i])
            presents.append(kv)
        return self.norm(x), presents


class LlamaForCausalLM(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, n_kv=2, inter=64):
        super().__init__()
        self.n_layers = n_layers
        self.io = "plain"
        self.model = LlamaModel(vocab, d, n_layers, n_heads, n_kv, inter)
        self.lm_head = nn.Linear(d, vocab, bias=False)  # untied

    def forward(self, input_ids, *rest):
        if self.io == "plain":
            h, _ = self.model(input_ids, plain_mask(input_ids, rest))
            return self.lm_head(h)
        if self.io == "no_past":  # input_ids, attention_mask, position_ids
            h, presents = self.model(input_ids, rest[0], rest[1])
            return (self.lm_head(h), *flat(presents))
        if self.io == "with_past":  # input_ids, attention_mask, position_ids, past_key_values.*
            h, presents = self.model(input_ids, rest[0], rest[1], pairs(rest[2:]))
            return (self.lm_head(h), *flat(presents))
        raise ValueError(self.io)
