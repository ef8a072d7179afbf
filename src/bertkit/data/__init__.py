"""Data: corpus → documents → sentence pairs → token shards; MLM masking; task readers."""
