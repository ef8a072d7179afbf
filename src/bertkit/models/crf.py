"""A linear-chain conditional random field over tag sequences (Lafferty et al., 2001).

score(y) = Σ_t emissions[t, y_t] + Σ_t transitions[y_{t-1}, y_t] + start[y_0] + end[y_T]
loss     = log Σ_y' exp score(y') − score(y)         (the forward algorithm gives the first term)
decode   = argmax_y score(y)                          (Viterbi)

Sequences are given padded, (B, T, L) emissions with a (B, T) mask that is a prefix of True values.
"""
from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


class CRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def _score(self, em: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        B, T, _ = em.shape
        m = mask.float()
        s = self.start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
        for t in range(1, T):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + em[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
            s = s + step * m[:, t]
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return s + self.end[last]

    def _log_partition(self, em: Tensor, mask: Tensor) -> Tensor:
        alpha = self.start + em[:, 0]  # (B, L)
        for t in range(1, em.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + em[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t:t + 1], nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean over sequences of −log p(tags | emissions); sequences with an empty mask are skipped."""
        em = emissions.float()
        keep = mask[:, 0]
        if not bool(keep.any()):
            return em.sum() * 0.0
        em, tags, mask = em[keep], tags[keep].clamp(min=0), mask[keep]
        return (self._log_partition(em, mask) - self._score(em, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """Viterbi: the best tag path of each sequence, as many tags as its mask holds (B lists)."""
        em = emissions.float()
        B, T, L = em.shape
        score = self.start + em[:, 0]  # (B, L)
        back = torch.zeros(max(T - 1, 0), B, L, dtype=torch.long)  # (T-1, B, L): best previous tag
        for t in range(1, T):
            best, back[t - 1] = (score.unsqueeze(2) + self.transitions).max(1)  # over `from`: (B, to)
            score = torch.where(mask[:, t:t + 1], best + em[:, t], score)
        lengths = mask.sum(1)  # (B,)
        tag = (score + self.end).argmax(1)  # (B,): the last tag of each path
        path = torch.zeros(B, T, dtype=torch.long)
        rows = torch.arange(B)
        # walk back from each sequence's own last position: rows whose sequence ends before t keep theirs
        for t in range(T - 1, -1, -1):
            live = lengths > t
            path[:, t] = torch.where(live, tag, path[:, t])
            if t:
                tag = torch.where(live, back[t - 1][rows, tag], tag)
        return [p[:n] for p, n in zip(path.tolist(), lengths.tolist())]
