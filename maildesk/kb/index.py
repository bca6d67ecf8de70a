"""Ranking articles for a customer's mail: BM25 over stems, title and tags weighted up.

Why not the database's full-text search: SQLite's FTS5 stems English only,
and the ranking must be the same on SQLite and PostgreSQL. A help desk has
tens to a few hundred articles, so an in-memory index built at load time
answers in microseconds.

- Terms: words minus stop words, Snowball-stemmed (terms.py).
- Typos: a word of 5 letters or more that the articles do not contain is
  matched to an article word with the same first letter at edit distance 1
  (2 for words of 8 letters or more), through an index of deletions built
  at load (the SymSpell idea); such a match counts 0.7. Shorter words are
  too easily another word ("mode" is not "code").
- Score: BM25F (k1 1.2, b 0.75), title x3, tags x2.5, body x1; subject
  terms count double. An article is suggested when its score reaches
  MIN_SCORE with at least two different informative terms matching (terms
  in no more than a third of the articles: "open", "settings" are in
  every how-to and say nothing), or with one term
  that is both in its title and its tags (its very topic: "printer") and
  makes up at least TOPIC_SHARE of the mail's words; always with one of its
  tags among the terms matched (the words of a title alone, "connect" and
  "network" in "Connect a network printer", do not make a VPN question about
  printers); and when it is within RELATIVE of the best one: no suggestion
  beats a wrong one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from maildesk.kb.articles import Article
from maildesk.kb.terms import stem, words

FIELDS = {"title": 3.0, "tags": 2.5, "body": 1.0}
K1, B = 1.2, 0.75
SUBJECT_WEIGHT = 2.0
FUZZY_WEIGHT = 0.7
MIN_SCORE = 6.0
RELATIVE = 0.5
MAX_QUERY_WORDS = 400
MIN_FUZZY = 5
TOPIC_SHARE = 0.4


@dataclass(frozen=True)
class Suggestion:
    article: Article
    score: float
    matched: tuple[str, ...]  # the article terms that matched
    relevant: bool  # above the thresholds: would be suggested


@dataclass(frozen=True)
class _Doc:
    article: Article
    tf: dict[str, float]  # term -> field-weighted, length-normalised frequency
    title_terms: frozenset[str]
    tag_terms: frozenset[str]


MEMO_SIZE = 50_000  # words remembered by _known


class KnowledgeBase:
    def __init__(self, articles: Iterable[Article]) -> None:
        self.articles = list(articles)
        fields = [
            {
                "title": [stem(w) for w in words(a.title)],
                "tags": [stem(w) for t in a.tags for w in words(t)],
                "body": [stem(w) for w in words(a.body)],
            }
            for a in self.articles
        ]
        average = {
            f: (sum(len(d[f]) for d in fields) / len(fields)) if fields else 1.0 for f in FIELDS
        }
        self.docs: list[_Doc] = []
        df: Counter[str] = Counter()
        for article, parts in zip(self.articles, fields, strict=True):
            tf: dict[str, float] = defaultdict(float)
            for field, weight in FIELDS.items():
                length = len(parts[field]) or 1
                norm = 1 - B + B * length / (average[field] or 1)
                for term, count in Counter(parts[field]).items():
                    tf[term] += weight * count / norm
            self.docs.append(
                _Doc(article, dict(tf), frozenset(parts["title"]), frozenset(parts["tags"]))
            )
            df.update(tf.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.informative = frozenset(t for t, c in df.items() if n < 4 or c * 3 <= n)
        self.vocabulary: dict[str, str] = {}  # surface word -> stem, for typo matching
        for a in self.articles:
            for w in words(f"{a.title} {' '.join(a.tags)} {a.body}"):
                self.vocabulary.setdefault(w, stem(w))
        self._deletes: dict[str, set[str]] = defaultdict(set)
        # word -> (stem, its term or None, factor): mail repeats its words, and the
        # typo search is the dearest step. Bounded; the index is rebuilt on reload.
        self._memo: dict[str, tuple[str, str | None, float]] = {}
        for w in self.vocabulary:
            if len(w) >= MIN_FUZZY:
                for variant in _deletions(w, _max_distance(w)):
                    self._deletes[variant].add(w)

    def __len__(self) -> int:
        return len(self.articles)

    def rank(self, subject: str, text: str, language: str | None = None) -> list[Suggestion]:
        """Every article with a score above zero, best first, each marked relevant or not."""
        query, share, total = self._query(subject, text)
        if not query or not self.docs:
            return []
        docs = self.docs
        if language is not None and any(d.article.language == language for d in docs):
            docs = [d for d in docs if d.article.language in (language, None)]
        scored = []
        for doc in docs:
            score = 0.0
            matched = []
            for term, weight in query.items():
                tf = doc.tf.get(term)
                if tf:
                    score += weight * self.idf[term] * tf * (K1 + 1) / (tf + K1)
                    matched.append(term)
            if score > 0:
                telling = [t for t in matched if t in self.informative]
                strong = len(telling) >= 2 or (
                    matched[0] in doc.title_terms & doc.tag_terms
                    and share[matched[0]] >= TOPIC_SHARE * total
                )
                # And about what the article is about: one of its tags among the terms
                # ("подключить сетевой принтер" is no answer to "VPN не подключается").
                strong = strong and (not doc.tag_terms or not doc.tag_terms.isdisjoint(matched))
                scored.append((score, doc.article, tuple(matched), strong))
        scored.sort(key=lambda s: (-s[0], s[1].slug))
        best = scored[0][0] if scored else 0.0
        return [
            Suggestion(
                article, round(score, 3), matched, ok and score >= max(MIN_SCORE, best * RELATIVE)
            )
            for score, article, matched, ok in scored
        ]

    def suggest(
        self, subject: str, text: str, language: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """At most ``limit`` articles relevant enough to put in front of a customer."""
        return [s for s in self.rank(subject, text, language) if s.relevant][:limit]

    def _query(self, subject: str, text: str) -> tuple[dict[str, float], dict[str, float], float]:
        """Terms with their weights (the subject's count double, typo matches less),
        the same without the typo discount, and the weight of all the mail's words,
        known to the articles or not (for the share a topic word has)."""
        query: dict[str, float] = {}
        share: dict[str, float] = {}
        every: dict[str, float] = {}
        for source, weight in ((subject, SUBJECT_WEIGHT), (text, 1.0)):
            for word in words(source)[:MAX_QUERY_WORDS]:
                root, term, factor = self._known(word)
                every[root] = max(every.get(root, 0.0), weight)
                if term is not None:
                    query[term] = max(query.get(term, 0.0), weight * factor)
                    share[term] = max(share.get(term, 0.0), weight)
        return query, share, sum(every.values())

    def _known(self, word: str) -> tuple[str, str | None, float]:
        found = self._memo.get(word)
        if found is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            found = self._memo[word] = (stem(word), *self._term(word))
        return found

    def _term(self, word: str) -> tuple[str | None, float]:
        term = stem(word)
        if term in self.idf:
            return term, 1.0
        if len(word) < MIN_FUZZY:
            return None, 0.0
        best: tuple[int, str] | None = None
        for variant in _deletions(word, _max_distance(word)):
            for candidate in self._deletes.get(variant, ()):
                if candidate[0] != word[0]:
                    continue
                distance = _distance(word, candidate)
                if distance <= _max_distance(word) and (best is None or distance < best[0]):
                    best = (distance, candidate)
        if best is None:
            return None, 0.0
        return self.vocabulary[best[1]], FUZZY_WEIGHT


def _max_distance(word: str) -> int:
    return 2 if len(word) >= 8 else 1


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a swapped pair is one typo."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]
