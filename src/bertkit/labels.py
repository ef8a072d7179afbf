"""IGNORE_INDEX: the label that takes no part in a loss.

-100 is PyTorch's `cross_entropy` default `ignore_index` and the convention of `transformers`: MLM labels
at unmasked positions, NER labels on the second and later pieces of a word, padding. One definition
for the data code, the heads and the training loops (this module imports nothing).
"""
IGNORE_INDEX = -100
