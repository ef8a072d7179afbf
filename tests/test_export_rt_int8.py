"""The int8 ONNX export of a Rotten Tomatoes classifier (all-MiniLM-L6-v2 fine-tuned here) against its fp32
export and its PyTorch weights, on the whole test set (1,066 sentences), through `bertkit predict
--engine`: int8 loses at most 1 point of accuracy; fp32 ONNX gives the same labels as PyTorch (slow tier)."""
import json

import pytest

from bertkit.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("onnxruntime")


def accuracy(rows, gold) -> float:
    return sum(r["label"] == g for r, g in zip(rows, gold)) / len(gold)


def test_int8_rt_classifier_loses_at_most_one_point(minilm_dir, rt_dir, tmp_path, capsys):
    clf = tmp_path / "clf"
    main(["finetune", "--task", "classify", "--model", str(minilm_dir), "--train", str(rt_dir / "train.jsonl"),
          "--out", str(clf), "--limit", "2000", "--epochs", "1", "--max-length", "64", "--quiet"])
    main(["export", "--format", "onnx", "--model", str(clf), "--out", str(tmp_path / "fp32.onnx")])
    main(["export", "--format", "onnx", "--model", str(clf), "--quantize", "int8", "--out", str(tmp_path / "int8.onnx")])
    capsys.readouterr()
    test = rt_dir / "test.jsonl"
    gold = [json.loads(line)["label"] for line in test.read_text(encoding="utf-8").splitlines()]

    def predict(*engine):
        out = tmp_path / f"pred-{len(engine) and engine[-1].split('/')[-1]}.jsonl"
        main(["predict", "--model", str(clf), "--input", str(test), "--output", str(out), *engine])
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    torch_rows = predict()
    fp32_rows = predict("--engine", "onnx", "--onnx", str(tmp_path / "fp32.onnx"))
    int8_rows = predict("--engine", "onnx", "--onnx", str(tmp_path / "int8.onnx"))
    acc = {name: accuracy(rows, gold) for name, rows in (("torch", torch_rows), ("fp32", fp32_rows),
                                                          ("int8", int8_rows))}
    print(acc)
    assert acc["torch"] > 0.7  # a real classifier, so a drop would show
    assert [r["label"] for r in fp32_rows] == [r["label"] for r in torch_rows]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(fp32_rows, torch_rows)) < 1e-4
    assert acc["int8"] >= acc["torch"] - 0.01, acc
