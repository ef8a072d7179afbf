"""Fill in masked tokens ([MASK], <mask>) with a model that has an MLM head, of any family."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import CheckpointError
from .cliargs import OptionError
from .errors import DataError


@torch.no_grad()
def fill_mask(model_dir: str | os.PathLike, text: str, top_k: int = 5, model=None, tokenizer=None) -> list[list[dict]]:
    """For each mask token in `text` ([MASK], <mask>: the tokenizer's mask_token): the top_k predictions as {"score", "token", "token_str", "sequence"}
    (the text with that one mask filled), as the `transformers` fill-mask pipeline gives them: token_str is
    the token decoded on its own ("cat" for ALBERT's "▁cat", " cat" for RoBERTa's "Ġcat"), and the sequence
    is decoded without special tokens when the text has one mask, with them (the other masks stay) when it
    has several.

    Raises CheckpointError (no such folder, no MLM head, a tokenizer of another model), DataError (no
    mask token in the text, or more tokens than the model's positions) or OptionError (top_k above the
    vocabulary)."""
    from .registry import AutoModelForMaskedLM
    from .tokenization import AutoTokenizer
    folder = Path(model_dir)
    if model is None and not folder.is_dir():
        raise CheckpointError(f"{folder}: no such model folder" if not folder.exists() else
                              f"{folder}: a file, not a model folder; give the folder of a model with an MLM head")
    if model is None:
        fresh: list = []
        model = AutoModelForMaskedLM.from_pretrained(folder, fresh=fresh)
        if fresh:
            electra = model.config.model_type == "electra"
            where = ("an ELECTRA discriminator has none: give the generator/ folder beside it" if electra else
                     "fill-mask needs a pretrained MLM, e.g. the model/ folder of `bertkit pretrain`")
            raise CheckpointError(f"{folder}: the weights hold no masked-LM head ({', '.join(fresh)}); {where}")
    tok = tokenizer or AutoTokenizer.from_pretrained(folder)
    model.eval()
    if len(tok) > model.config.vocab_size:
        raise CheckpointError(f"{folder}: the tokenizer has {len(tok)} tokens but the model's vocab_size is "
                              f"{model.config.vocab_size}; the tokenizer files belong to another model")
    enc = tok([text], return_tensors="pt")
    ids = enc["input_ids"]  # (1, T)
    limit = model.config.max_sequence_length
    if ids.shape[1] > limit:
        raise DataError(f"text: {ids.shape[1]} tokens, but the model reads at most {limit} (max_position_embeddings); "
                        f"shorten the text around the {tok.mask_token}")
    where = (ids[0] == tok.mask_token_id).nonzero().flatten().tolist()
    if not where:
        raise DataError(f"text {text!r}: no {tok.mask_token} token; put {tok.mask_token} where a word is to be "
                        "predicted")
    if top_k > len(tok):
        raise OptionError(f"--top-k {top_k}: more than the {len(tok)} tokens of the vocabulary; ask for fewer")
    logits = model(input_ids=ids, attention_mask=enc["attention_mask"],
                   token_type_ids=enc.get("token_type_ids")).logits[0]  # (T, V)
    results = []
    single = len(where) == 1
    for pos in where:
        probs = logits[pos].float().softmax(-1)
        scores, cand = probs.topk(top_k)
        preds = []
        for s, c in zip(scores.tolist(), cand.tolist()):
            filled = ids[0].clone()
            filled[pos] = c
            seq = tok.decode(filled.tolist(), skip_special_tokens=single)
            preds.append({"score": s, "token": c, "token_str": tok.decode([c]), "sequence": seq})
        results.append(preds)
    return results
