"""Test helpers for the training loop."""


class StopAfter:
    """Stands in for the loop's signal flag (train.loop._Signals): raised after `n` steps, as a SIGTERM
    would be. Use: monkeypatch.setattr(loop_mod, "_Signals", StopAfter(loop_mod._Signals, n))."""

    def __init__(self, base, n):
        self.base, self.n = base, n

    def __call__(self):
        n = self.n

        class Stop(self.base):
            reads = 0

            @property
            def flag(self):
                self.reads += 1
                return self.reads >= n

            @flag.setter
            def flag(self, value):
                pass
        return Stop()
