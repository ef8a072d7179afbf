"""Export a model folder to other runtimes, and run the exported file.

    onnx.py       `bertkit export --format onnx`: torch.export → ONNX with dynamic batch and sequence axes,
                  checked in onnxruntime against the PyTorch model before it is written; optional
                  onnxruntime graph fusion and int8 dynamic quantisation
    runtime.py    OnnxModel (an exported file behind the PyTorch models' interface) and load_model, the
                  one loader of `embed`, `predict` and `serve` for `--engine torch|onnx`

No torch or onnxruntime is imported here: `bertkit --help` stays quick.
"""
