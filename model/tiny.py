"""A tiny random-weight Llama checkpoint with a real BPE tokenizer, made offline in a second.

For tests (and for trying the training pipeline): everything a real checkpoint directory has —
config, safetensors, tokenizer with special tokens and a chat template — at toy scale.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<file_sep>", "<filename>"]

_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def mean(values):\n    return sum(values) / len(values)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "import os\nimport sys\n\nfor i in range(10):\n    print(i)\n",
    "function add(a, b) {\n  return a + b;\n}\nconst x = [1, 2, 3];\n",
    "fn main() { let v: Vec<i32> = Vec::new(); println!(\"{}\", v.len()); }\n",
    "if x <= y and not z:\n    raise ValueError('bad')\nelse:\n    pass\n",
    "Translate this Python function to JavaScript. Write pytest tests for the function.\n",
    "中文注释 😀 émoji ünïcode\n",
]


def make_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_checkpoint(path: str | Path, *, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    """Write a loadable random Llama checkpoint (config, safetensors, tokenizer) to `path`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = make_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, rms_norm_eps=1e-5,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
