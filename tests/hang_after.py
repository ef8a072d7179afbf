"""A test hook, installed by the tests and not shipped in bertkit's options: run a bertkit command whose
training loop stops dead (sleeps forever) right after writing the checkpoint of step N, so that a test
can kill it with SIGKILL and resume it.

    python tests/hang_after.py N pretrain --out run ...      (also under torch.distributed.run)
"""
import sys
import time

import torch.distributed as dist

from bertkit.train import loop

N = int(sys.argv[1])
_save = loop.Loop.save_checkpoint


def save_then_hang(self):
    _save(self)
    if self.step == N:
        if self.world > 1:
            dist.barrier()
        while True:
            time.sleep(60)


loop.Loop.save_checkpoint = save_then_hang

if __name__ == "__main__":
    from bertkit.cli import main
    main(sys.argv[2:])
