"""Held-out masked-LM accuracy of a pretrained folder, with character (token-level) masking and with
whole-word masking, on the same held-out shards, each with the same fixed seeds.

    bertkit prepare heldout.txt --tokenizer MODEL --segment spaces --out held-shards
    python scripts/mlm_heldout.py --model MODEL --data held-shards [--split train] [--seeds 3]

The held-out text is prepared like the training text (`bertkit prepare`, with the word starts that
`--segment` stores) and read once, whole: every document of `--split`, cut into `--max-seq-length`
examples as pretraining cuts them (next-sentence pairs for BERT). 15% of the tokens are selected
(`--mlm-probability`), 80/10/10 as in training; with whole-word masking every token of a selected word
is selected (a word is a segmenter word for Chinese, a `##` run for English). The accuracy is over the
selected tokens: the share whose original token is the model's top prediction. Printed as one JSON line
per masking, the mean and each seed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def held_out_scores(model_dir: str, data: str, split: str, whole_word: bool, seed: int, max_seq_length: int,
                    mlm_probability: float, batch_size: int) -> dict:
    import torch
    from bertkit.data.corpus import TokenCorpus
    from bertkit.data.pretraining import collate
    from bertkit.train.objectives.mlm import evaluate_mlm
    from bertkit.train.pretrain import build_model, make_stream, _load_tokenizer
    from bertkit.train.pretrain_args import PretrainArgs

    a = PretrainArgs(init_from=model_dir, data=data, max_seq_length=max_seq_length, whole_word_mask=whole_word,
                     dropout=0.0, seed=seed)
    tok = _load_tokenizer(Path(model_dir))
    model = build_model(a, len(tok), tok).eval()
    stream = make_stream(TokenCorpus(data, split), tok, a, static=True, seed=seed, mlm_probability=mlm_probability)
    examples = []
    for epoch, _, inst in stream.instances():
        if epoch > 0:
            break  # the whole split, once
        examples.append(stream.mask(inst, epoch))
    pairs = {"nsp": stream.cfg.nsp, "sop": stream.cfg.sop}
    batches = [collate(examples[i:i + batch_size], tok.pad_token_id, **pairs)
               for i in range(0, len(examples), batch_size)]
    masked = sum(int((b["labels"] != -100).sum()) for b in batches)
    with torch.inference_mode():
        res = evaluate_mlm(model, batches, "fp32", torch.device("cpu"))
    return {"examples": len(examples), "masked_tokens": masked, **res}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a pretrained folder (BertForPreTraining)")
    p.add_argument("--data", required=True, help="held-out shards from `bertkit prepare`")
    p.add_argument("--split", default="train", help="the split of --data to score (default: train)")
    p.add_argument("--seeds", type=int, default=3, help="masking seeds, 1..N (default 3)")
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--mlm-probability", type=float, default=0.15)
    p.add_argument("--batch-size", type=int, default=64)
    a = p.parse_args(argv)
    for whole_word in (False, True):
        runs = [held_out_scores(a.model, a.data, a.split, whole_word, s, a.max_seq_length, a.mlm_probability,
                                a.batch_size) for s in range(1, a.seeds + 1)]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("eval_mlm_acc", "eval_mlm_loss")}
        print(json.dumps({"masking": "whole-word" if whole_word else "character", "model": a.model,
                          "mlm_acc": round(mean["eval_mlm_acc"], 4), "mlm_loss": round(mean["eval_mlm_loss"], 4),
                          "seeds": [{"acc": round(r["eval_mlm_acc"], 4), "masked": r["masked_tokens"]} for r in runs],
                          "examples": runs[0]["examples"]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
