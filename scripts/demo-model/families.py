"""Tiny torch re-implementations of four decoder families, with Hugging Face module/parameter names,
so that `torch.onnx.export(..., dynamo=False)` yields graphs shaped like real exports.

Written for polyprune (build-time only). Every model maps (input_ids [b, s] int64,
attention_mask [b, s] int64) -> logits [b, s, vocab] float32; the causal + padding mask is built inside.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = torch.finfo(torch.float32).min


def additive_mask(attention_mask, seq_len):
    """[b, 1, s, s] float mask: 0 where a query may attend to a key, float32.min elsewhere."""
    idx = torch.arange(seq_len, device=attention_mask.device)
    causal = idx[None, :] <= idx[:, None]  # [s(query), s(key)]
    allowed = causal[None, None, :, :] & attention_mask[:, None, None, :].bool()
    zero = torch.zeros((), dtype=torch.float32)
    neg = torch.full((), NEG, dtype=torch.float32)
    return torch.where(allowed, zero, neg)


def attend(q, k, v, mask, head_dim=None, bias=None):
    """q, k, v: [b, h, s, hd] -> [b, s, h*hd]; scores divided by sqrt(head_dim) when it is given."""
    scores = torch.matmul(q, k.transpose(-1, -2))
    if head_dim is not None:
        scores = scores / math.sqrt(head_dim)
    if bias is not None:
        scores = scores + bias
    scores = scores + mask
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v)
    b, h, s, hd = out.shape
    return out.transpose(1, 2).reshape(b, s, h * hd)


def split_heads(x, n_heads):
    b, s, d = x.shape
    return x.view(b, s, n_heads, d // n_heads).transpose(1, 2)


# ----------------------------------------------------------------------------------------------- GPT-2
class Conv1D(nn.Module):
    """GPT-2's Conv1D: weight stored [in, out]; HF computes it with addmm on the flattened input
    (exported as Gemm, transB=0). `matmul=True` computes x @ W + b instead (exported as MatMul + Add)."""

    def __init__(self, nf, nx, matmul=False):
        super().__init__()
        self.nf = nf
        self.matmul = matmul
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        if self.matmul:
            return torch.matmul(x, self.weight) + self.bias
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, d, n_heads, matmul):
        super().__init__()
        self.n_heads = n_heads
        self.d = d
        self.c_attn = Conv1D(3 * d, d, matmul)
        self.c_proj = Conv1D(d, d, matmul)

    def forward(self, x, mask):
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        h = self.n_heads
        out = attend(split_heads(q, h), split_heads(k, h), split_heads(v, h), mask, self.d // h)
        return self.c_proj(out)


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

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, n_positions, matmul):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_positions, d)
        self.h = nn.ModuleList([GPT2Block(d, n_heads, matmul) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, input_ids, attention_mask):
        s = input_ids.size(1)
        pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(pos)
        mask = additive_mask(attention_mask, s)
        for block in self.h:
            x = block(x, mask)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, n_positions=128, matmul=False):
        super().__init__()
        self.transformer = GPT2Model(vocab, d, n_layers, n_heads, n_positions, matmul)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, input_ids, attention_mask):
        return self.lm_head(self.transformer(input_ids, attention_mask))


# ----------------------------------------------------------------------------------------------- BLOOM
def alibi_slopes(n_heads):
    # n_heads a power of two here (as BLOOM's closed form for that case)
    base = 2.0 ** (-(2.0 ** -(math.log2(n_heads) - 3)))
    return torch.tensor([base ** (i + 1) for i in range(n_heads)], dtype=torch.float32)


class BloomGelu(nn.Module):
    def forward(self, x):
        return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


class BloomAttention(nn.Module):
    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d // n_heads
        self.query_key_value = nn.Linear(d, 3 * d, bias=True)
        self.dense = nn.Linear(d, d, bias=True)

    def forward(self, x, mask, alibi):
        b, s, _ = x.shape
        fused = self.query_key_value(x).view(b, s, self.n_heads, 3, self.head_dim)
        q = fused[..., 0, :].transpose(1, 2)
        k = fused[..., 1, :].transpose(1, 2)
        v = fused[..., 2, :].transpose(1, 2)
        return self.dense(attend(q, k, v, mask, self.head_dim, bias=alibi))


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

    def forward(self, x, mask, alibi):
        x = x + self.self_attention(self.input_layernorm(x), mask, alibi)
        return x + self.mlp(self.post_attention_layernorm(x))


class BloomModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d)
        self.word_embeddings_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.h = nn.ModuleList([BloomBlock(d, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def forward(self, input_ids, attention_mask):
        s = input_ids.size(1)
        am = attention_mask.to(torch.float32)
        key_pos = (torch.cumsum(am, dim=-1) - 1.0) * am  # [b, s]
        alibi = self.slopes[None, :, None, None] * key_pos[:, None, None, :]  # [b, h, 1, s]
        mask = additive_mask(attention_mask, s)
        x = self.word_embeddings_layernorm(self.word_embeddings(input_ids))
        for block in self.h:
            x = block(x, mask, alibi)
        return self.ln_f(x)


class BloomForCausalLM(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4):
        super().__init__()
        self.transformer = BloomModel(vocab, d, n_layers, n_heads)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.word_embeddings.weight  # tied

    def forward(self, input_ids, attention_mask):
        return self.lm_head(self.transformer(input_ids, attention_mask))


# ------------------------------------------------------------------------------------------------ XGLM
def sinusoidal_table(n, d, padding_idx=1):
    half = d // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    ang = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]
    table = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
    if d % 2 == 1:
        table = torch.cat([table, torch.zeros(n, 1)], dim=1)
    table[padding_idx, :] = 0
    return table


class XGLMSinusoidalPositionalEmbedding(nn.Module):
    def __init__(self, n_positions, d, offset=2):
        super().__init__()
        self.offset = offset
        self.register_buffer("weights", sinusoidal_table(n_positions + offset, d), persistent=False)

    def forward(self, seq_len):
        pos = torch.arange(seq_len, dtype=torch.long) + self.offset
        return self.weights.index_select(0, pos).unsqueeze(0)


class Linear2D(nn.Linear):
    """nn.Linear applied to the flattened [b*s, d] input: torch.onnx exports this as Gemm(transB=1)."""

    def forward(self, x):
        shape = x.shape
        y = F.linear(x.reshape(-1, shape[-1]), self.weight, self.bias)
        return y.view(shape[0], shape[1], self.out_features)


class XGLMAttention(nn.Module):
    def __init__(self, d, n_heads, lin, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.n_heads = n_heads
        self.scaling = (d // n_heads) ** -0.5
        self.q_proj = lin(d, d)
        self.k_proj = lin(d, d)
        self.v_proj = lin(d, d)
        self.out_proj = lin(d, d)

    def forward(self, x, mask):
        q = self.q_proj(x) * self.scaling
        k = self.k_proj(x)
        v = self.v_proj(x)
        h = self.n_heads
        out = attend(split_heads(q, h), split_heads(k, h), split_heads(v, h), mask)
        return F.dropout(self.out_proj(out), self.dropout, self.training)


class XGLMDecoderLayer(nn.Module):
    def __init__(self, d, n_heads, ffn, lin, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.self_attn = XGLMAttention(d, n_heads, lin, dropout)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = lin(d, ffn)
        self.fc2 = lin(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x, mask):
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask)
        h = self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        return x + F.dropout(h, self.dropout, self.training)


class XGLMModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, ffn, n_positions, lin, dropout=0.0):
        super().__init__()
        self.embed_scale = math.sqrt(d)
        self.embed_tokens = nn.Embedding(vocab, d, padding_idx=1)
        self.embed_positions = XGLMSinusoidalPositionalEmbedding(n_positions, d)
        self.layers = nn.ModuleList([XGLMDecoderLayer(d, n_heads, ffn, lin, dropout) for _ in range(n_layers)])
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, input_ids, attention_mask):
        s = input_ids.size(1)
        x = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions(s)
        mask = additive_mask(attention_mask, s)
        for layer in self.layers:
            x = layer(x, mask)
        return self.layer_norm(x)


class XGLMForCausalLM(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, ffn=128, n_positions=128, gemm=False, dropout=0.0):
        super().__init__()
        lin = Linear2D if gemm else nn.Linear
        self.model = XGLMModel(vocab, d, n_layers, n_heads, ffn, n_positions, lin, dropout)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight  # tied

    def forward(self, input_ids, attention_mask):
        return self.lm_head(self.model(input_ids, attention_mask))


# ----------------------------------------------------------------------------------------------- LLaMA
class LlamaRMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.variance_epsilon))


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, seq_len):
        pos = torch.arange(seq_len, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]


def rotate_half(x):
    half = x.size(-1) // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, d, n_heads, n_kv):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = n_heads, n_kv, d // n_heads
        self.q_proj = nn.Linear(d, n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * self.head_dim, d, bias=False)

    def forward(self, x, mask, cos, sin):
        q = split_heads(self.q_proj(x), self.n_heads)
        k = split_heads(self.k_proj(x), self.n_kv)
        v = split_heads(self.v_proj(x), self.n_kv)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv
        if rep > 1:  # repeat_kv
            b, _, s, hd = k.shape
            k = k[:, :, None].expand(b, self.n_kv, rep, s, hd).reshape(b, self.n_heads, s, hd)
            v = v[:, :, None].expand(b, self.n_kv, rep, s, hd).reshape(b, self.n_heads, s, hd)
        return self.o_proj(attend(q, k, v, mask, self.head_dim))


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

    def forward(self, x, mask, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), mask, cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, vocab, d, n_layers, n_heads, n_kv, inter):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([LlamaDecoderLayer(d, n_heads, n_kv, inter) for _ in range(n_layers)])
        self.norm = LlamaRMSNorm(d)
        self.rotary_emb = LlamaRotaryEmbedding(d // n_heads)

    def forward(self, input_ids, attention_mask):
        s = input_ids.size(1)
        cos, sin = self.rotary_emb(s)
        mask = additive_mask(attention_mask, s)
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, mask, cos, sin)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, vocab=288, d=32, n_layers=2, n_heads=4, n_kv=2, inter=64):
        super().__init__()
        self.model = LlamaModel(vocab, d, n_layers, n_heads, n_kv, inter)
        self.lm_head = nn.Linear(d, vocab, bias=False)  # untied

    def forward(self, input_ids, attention_mask):
        return self.lm_head(self.model(input_ids, attention_mask))


def export(model, path, seq=7, opset=17):
    model.eval()
    ids = torch.randint(4, 200, (2, seq), dtype=torch.long)
    am = torch.ones(2, seq, dtype=torch.long)
    am[1, :2] = 0  # left padding on the second row
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, am),
            path,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "sequence_length"},
                "logits": {0: "batch_size", 1: "sequence_length"},
            },
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
