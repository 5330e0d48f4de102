"""Randomly initialised BLIP captioners for tests and benchmarks (no network, no downloads).

``build_tiny_blip(dir)`` writes a tiny model, a tiny BERT tokenizer and a small-image processor
with ``save_pretrained``; tests load it through the same ``--model PATH`` code path as a real
checkpoint. ``build_blip(preset)`` returns the pair in memory, also at BLIP-base and BLIP-large
sizes (the released captioners' architectures, with random weights) for ``bench/caption.py``.

The tiny preset's weights are re-drawn with a larger spread than BLIP's own init (whose vision
init is 1e-10), so different images give different captions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A small word-piece vocabulary: BERT's special tokens first (BLIP's tokenizer is BERT's),
# then ordinary words; BLIP's decoder-start token ``[DEC]`` comes after them.
_WORD_TEXT = """
a an the of on in with and is are at to near two three man woman cat dog bird car bus tree house street room
table chair cup coffee rocket space sky field water beach city people sitting standing red blue green white
black small large old young picture photo close up view
"""
WORDS = _WORD_TEXT.split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BLIP_VOCAB = 30524  # bert-base-uncased (30522) + [DEC] + [ENC], as in Salesforce/blip-image-captioning-*

# Architectures of the released captioners (Salesforce/blip-image-captioning-base|large) and a tiny one.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vision": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "patch_size": 8},
        "text": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "max_position_embeddings": 64},
        "image_size": 32,
        "full_vocab": False,
        "init_std": 0.5,
    },
    "base": {
        "vision": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "patch_size": 16},
        "text": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
        "image_size": 384,
        "full_vocab": True,
        "init_std": None,
    },
    "large": {
        "vision": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                   "num_attention_heads": 16, "patch_size": 16},
        "text": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
        "image_size": 384,
        "full_vocab": True,
        "init_std": None,
    },
}  # fmt: skip


def _write_vocab(folder: Path, full: bool) -> tuple[Path, dict[str, int]]:
    """A BERT vocab file: specials, words, then (full size) ``[unusedN]`` filler up to 30522, ``[DEC]``, ``[ENC]``."""
    vocab = [*SPECIALS, *WORDS]
    if full:
        vocab += [f"[unused{i}]" for i in range(BLIP_VOCAB - 2 - len(vocab))]
    vocab += ["[DEC]", "[ENC]"]
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path, {tok: i for i, tok in enumerate(vocab)}


def build_blip(
    preset: str, folder: str | Path, image_size: int | None = None, seed: int = 0
) -> tuple[Any, Any]:
    """A randomly initialised ``(BlipForConditionalGeneration, BlipProcessor)``; the vocab file goes to ``folder``."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    spec = PRESETS[preset]
    image_size = image_size or spec["image_size"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, ids = _write_vocab(folder, spec["full_vocab"])

    tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True, bos_token="[DEC]", model_max_length=512)
    image_processor = BlipImageProcessor(size={"height": image_size, "width": image_size})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)

    config = BlipConfig(
        vision_config={**spec["vision"], "image_size": image_size},
        text_config={
            **spec["text"],
            "vocab_size": len(ids),
            "bos_token_id": ids["[DEC]"],
            "eos_token_id": ids["[SEP]"],
            "sep_token_id": ids["[SEP]"],
            "pad_token_id": ids["[PAD]"],
        },
    )
    # BLIP's own init draws from torch's global generator: seed it inside a fork, leave the caller's as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BlipForConditionalGeneration(config)
    if spec["init_std"]:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" in name.lower():
                    continue
                param.copy_(torch.randn(param.shape, generator=generator) * spec["init_std"])
    return model.eval(), processor


def build_tiny_blip(out_dir: str | Path, image_size: int = 32, seed: int = 0) -> Path:
    """Write a tiny BLIP captioner (model + processor) to ``out_dir`` with ``save_pretrained``."""
    out_dir = Path(out_dir)
    model, processor = build_blip("tiny", out_dir, image_size=image_size, seed=seed)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
