"""Built-in synthetic stand-ins for the six GLUE tasks (offline, deterministic).

Every task keeps the GLUE schema (single sentences for SST-2, sentence pairs for the rest,
three labels for MNLI, the label strings of the TSV files). Each task has a small lexicon of
words with a fixed polarity (SST-2 "great" / "dull", RTE "sunny" / "wet", QNLI "easy" /
"hard", ...): like sentiment in real text, a word's polarity is learned from the training
set, and an example's label is a rule over the polarities stated inside the example, never
a fact about a hidden world that the model would have to memorise. The rules come in three
kinds that need more and more layers of a transformer:

* **easy**: one token decides. "the film was great ." (SST-2); for a pair, the second text
  is a fixed positive sentence ("it was nice .") and the first text's one polarity
  word decides. After one layer the [CLS] vector is roughly a bag of the words, from which
  a linear read-out answers these: the first exit can.
* **medium**: two tokens interact. A negation flips a sentiment word ("the film was not
  great ."); a pair agrees or not ("friday was sunny ." / "it was wet ."): the label is the
  XOR of two polarities, which no single word tells.
* **hard**: a composition with scope. One text turns ("friday was sunny but wet ."):
  only what follows "but" counts, and the two clauses disagree, so the words
  alone say nothing; the claim may be negated ("it was not dry ."). A token must first learn
  where it stands relative to "but" and "not" (attending to those function words) before
  [CLS] can combine the effective polarities: several layers. SST-2's hard examples are
  turns with negations inside ("not a great start but not a dull end .").

MNLI's third label follows the same plan without a one-word cue: its words have an aspect
as well as a polarity (taste "tasty" / "stale", price "cheap" / "pricey"), and a claim
about an aspect the deciding word of the premise does not address is neutral ("a stale
pie ." / "it was pricey ."). A neutral class told by a word of its own (a hedge "might", or
words of a third class) was learned long before polarity and saturated the tanh pooler:
the tiny models then never separated entailment from contradiction, for any seed or
learning rate tried.

Half the examples are easy, a quarter medium, a quarter hard (`Mix`). The easy ones are
what gets a randomly initialised model started: with a third easy, Past-Future on the tiny
ALBERT stayed at chance on most pair tasks (CE flat at ln 2 for 300 steps), with 0.4 on
three of six, with half it learns on most seeds. A larger easy share would shrink the gap
between the first and last exits that early exit exploits.

Openers, negations and turns move the deciding word, so its position alone does not tell
the kind or the label (within one template of a pair task it does sit at a fixed place).
Labels are balanced: every block of `num_labels` consecutive examples holds each label once,
in random order (the majority class of a split is 1/num_labels up to one example), and each
example is built for its label. Kinds are drawn independently of labels. Examples are short
(at most 14 word pieces with [CLS]/[SEP]): training cost grows with tokens per batch. The
kind of every example is available from `generate_with_kinds`, for accuracy by kind and
exit (`benchmarks/synthetic_learnability.py`).

Generation uses one `random.Random` per (task, split, seed): no global RNG, and the same
arguments give the same examples everywhere; a larger split extends a smaller one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from pf.data.base import Example, SyntheticSizes, TaskData
from pf.tasks import TaskSpec

KINDS: tuple[str, ...] = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Lexicon:
    """Words of one task with a fixed polarity."""

    good: tuple[str, ...]
    bad: tuple[str, ...]

    def word(self, rng: random.Random, positive: bool) -> str:
        return rng.choice(self.good if positive else self.bad)


SENTIMENT = Lexicon(("good", "great", "fine", "lovely", "superb", "charming", "brilliant", "moving"),
                    ("bad", "awful", "dull", "boring", "weak", "poor", "terrible", "clumsy"))
WEATHER = Lexicon(("sunny", "dry", "bright", "clear", "warm", "calm"),
                  ("rainy", "wet", "stormy", "grey", "cold", "windy"))
HEALTH = Lexicon(("well", "fit", "healthy", "strong", "rested", "cheerful"),
                 ("ill", "sick", "weak", "tired", "unwell", "gloomy"))
EXAM = Lexicon(("easy", "simple", "short", "clear", "fair", "light"),
               ("hard", "tough", "long", "vague", "unfair", "heavy"))
HOTEL = Lexicon(("clean", "quiet", "cheap", "safe", "modern", "cosy"),
                ("dirty", "noisy", "pricey", "unsafe", "shabby", "cramped"))
TASTE = Lexicon(("tasty", "fresh", "sweet", "crisp", "rich", "juicy"),
                ("bland", "stale", "sour", "soggy", "burnt", "salty"))
PRICE = Lexicon(("cheap", "affordable", "modest", "low", "free", "reasonable"),
                ("pricey", "costly", "dear", "steep", "high", "lavish"))

NAMES = ("ann", "bob", "cal", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lee")
DAYS = ("monday", "tuesday", "friday", "sunday", "today", "yesterday")
DISHES = ("soup", "cake", "bread", "stew", "pie", "salad")
SUBJECTS = ("film", "movie", "story", "show", "play")
PARTS = (("start", "end"), ("cast", "plot"), ("opening", "finale"), ("music", "story"))
OPENERS = ("", "", "", "honestly", "overall", "sadly")


@dataclass(frozen=True)
class Mix:
    """Shares of the example kinds."""

    easy: float = 0.5
    medium: float = 0.25
    hard: float = 0.25

    def kind(self, rng: random.Random) -> str:
        return rng.choices(KINDS, weights=(self.easy, self.medium, self.hard), k=1)[0]


DEFAULT_MIX = Mix()

# (rng, kind, label index in TaskSpec.labels) -> (text_a, text_b)
Gen = Callable[[random.Random, str, int], tuple[str, str | None]]


def _words(*parts: str) -> str:
    return " ".join(" ".join(parts).split())


def _not(negated: bool) -> str:
    return "not" if negated else ""


# --------------------------------------------------------------------------- SST-2


def _sst2(rng, kind, label):
    positive = label == 1
    opener, subject = rng.choice(OPENERS), rng.choice(SUBJECTS)
    if kind == "easy":
        return _words(opener, "the", subject, "was", SENTIMENT.word(rng, positive), "."), None
    if kind == "medium":
        return _words(opener, "the", subject, "was not", SENTIMENT.word(rng, not positive), "."), None
    # "<not> a <w1> start but <not> a <w2> end": the second clause decides, the first says
    # the opposite; each clause is negated or not at random
    first, second = rng.choice(PARTS)
    neg1, neg2 = rng.random() < 0.5, rng.random() < 0.5
    w1 = SENTIMENT.word(rng, (not positive) != neg1)
    w2 = SENTIMENT.word(rng, positive != neg2)
    return _words(_not(neg1), "a", w1, first, "but", _not(neg2), "a", w2, second, "."), None


# --------------------------------------------------------------------------- binary pairs


@dataclass(frozen=True)
class PairFrame:
    """How one binary pair task writes its texts (the rule is shared: the label says whether
    the effective polarities of the two texts agree)."""

    lexicon: Lexicon
    statement: Callable[[random.Random, str], str]          # one clause with word w
    turn: Callable[[random.Random, str, str], str]          # "w0 but w1": w1 counts
    claim: Callable[[random.Random, str, bool], str]        # w, negated
    good_claim: Callable[[random.Random], str]              # a fixed positive sentence


def _agreeing_pair(rng: random.Random, kind: str, frame: PairFrame, agree: bool) -> tuple[str, str]:
    """(first text, second text) whose effective polarities agree or not.

    easy: statement(w) and the fixed positive sentence: w's polarity decides. medium:
    statement(w1) and claim(w2). hard: turn(w0, w1) (w1 counts, w0 has the opposite
    polarity) and claim(w2) negated or not at random."""
    lex = frame.lexicon
    if kind == "easy":
        return frame.statement(rng, lex.word(rng, agree)), frame.good_claim(rng)
    p = rng.random() < 0.5                       # effective polarity of the first text
    if kind == "medium":
        return frame.statement(rng, lex.word(rng, p)), frame.claim(rng, lex.word(rng, p == agree), False)
    negated = rng.random() < 0.5
    first = frame.turn(rng, lex.word(rng, not p), lex.word(rng, p))
    return first, frame.claim(rng, lex.word(rng, (p == agree) != negated), negated)


def _day_frame() -> PairFrame:
    return PairFrame(
        WEATHER,
        statement=lambda rng, w: _words(rng.choice(DAYS), "was", w, "."),
        turn=lambda rng, w0, w1: _words(rng.choice(DAYS), "was", w0, "but", w1, "."),
        claim=lambda rng, w, neg: _words("it was", _not(neg), w, "."),
        good_claim=lambda rng: "it was nice .")


def _rte(rng, kind, label):
    # labels ("entailment", "not_entailment")
    return _agreeing_pair(rng, kind, _day_frame(), agree=label == 0)


def _mrpc(rng, kind, label):
    # labels ("0", "1"): a paraphrase says the same about the same person
    name = rng.choice(NAMES)
    frame = PairFrame(
        HEALTH,
        statement=lambda rng, w: _words(name, "was", w, "."),
        turn=lambda rng, w0, w1: _words(name, "was", w0, "but", w1, "."),
        claim=lambda rng, w, neg: _words(name, "is", _not(neg), w, "."),
        good_claim=lambda rng: _words(name, "is fine ."))
    return _agreeing_pair(rng, kind, frame, agree=label == 1)


def _qqp(rng, kind, label):
    # labels ("0", "1"): duplicates ask about the same quality
    frame = PairFrame(
        HOTEL,
        statement=lambda rng, w: _words("is the hotel", w, "?"),
        turn=lambda rng, w0, w1: _words("is it", w0, "but", w1, "?"),
        claim=lambda rng, w, neg: _words("is it", _not(neg), w, "?"),
        good_claim=lambda rng: "is it good ?")
    return _agreeing_pair(rng, kind, frame, agree=label == 1)


def _qnli(rng, kind, label):
    # labels ("entailment", "not_entailment"); the question comes first, and the sentence
    # entails it when it answers "yes": "was the exam easy ?" / "it was a breeze ." /
    # "it was hard ." / "was it not hard ?" / "it was hard but easy ." (the later word counts)
    answers = label == 0
    if kind == "easy":
        return _words("was the exam", EXAM.word(rng, answers), "?"), "it was a breeze ."
    p = rng.random() < 0.5                       # what the exam effectively was
    if kind == "medium":
        return _words("was the exam", EXAM.word(rng, p == answers), "?"), _words("it was", EXAM.word(rng, p), ".")
    negated = rng.random() < 0.5
    question = _words("was it", _not(negated), EXAM.word(rng, (p == answers) != negated), "?")
    return question, _words("it was", EXAM.word(rng, not p), "but", EXAM.word(rng, p), ".")


# --------------------------------------------------------------------------- MNLI


def _mnli(rng, kind, label):
    # labels ("contradiction", "entailment", "neutral"). Words have an aspect (taste, price)
    # and a polarity; the claim is neutral when its aspect is not the one of the premise's
    # deciding word, else entailed or contradicted by polarity.
    neutral, agree = label == 2, label == 1
    dish = rng.choice(DISHES)
    if kind == "easy":
        # "it tasted good .": a price word says nothing about taste
        w = rng.choice(PRICE.good + PRICE.bad) if neutral else TASTE.word(rng, agree)
        return _words("a", w, dish, "."), "it tasted good ."
    aspect = rng.choice((TASTE, PRICE))
    other = PRICE if aspect is TASTE else TASTE
    p = rng.random() < 0.5                       # polarity of the premise's deciding word
    w1 = aspect.word(rng, p)
    if kind == "medium":
        w2 = other.word(rng, rng.random() < 0.5) if neutral else aspect.word(rng, p == agree)
        return _words("a", w1, dish, "."), _words("it was", w2, ".")
    # "a <w0> but <w1> soup": w1 decides, w0 (either aspect) has the opposite polarity
    negated = rng.random() < 0.5
    w0 = rng.choice((TASTE, PRICE)).word(rng, not p)
    w2 = other.word(rng, rng.random() < 0.5) if neutral else aspect.word(rng, (p == agree) != negated)
    return _words("a", w0, "but", w1, dish, "."), _words("it was", _not(negated), w2, ".")


GENERATORS: dict[str, Gen] = {
    "sst2": _sst2, "mrpc": _mrpc, "qnli": _qnli, "rte": _rte, "qqp": _qqp, "mnli": _mnli,
}


def generate_with_kinds(task: TaskSpec, split: str, size: int, seed: int,
                        mix: Mix | None = None) -> list[tuple[Example, str]]:
    """Examples of one split with their kind ("easy", "medium" or "hard")."""
    mix = DEFAULT_MIX if mix is None else mix
    rng = random.Random(f"pf-synthetic/{task.name}/{split}/{seed}")
    gen = GENERATORS[task.name]
    out: list[tuple[Example, str]] = []
    block: list[int] = []
    for n in range(size):
        if not block:                            # each label once per block, random order
            block = rng.sample(range(task.num_labels), task.num_labels)
        label = block.pop()
        kind = mix.kind(rng)
        a, b = gen(rng, kind, label)
        out.append((Example(guid=f"{split}-{n}", text_a=a, text_b=b, label=label), kind))
    return out


def generate(task: TaskSpec, split: str, size: int, seed: int, mix: Mix | None = None) -> list[Example]:
    return [ex for ex, _ in generate_with_kinds(task, split, size, seed, mix)]


def load_synthetic(task: TaskSpec, synthetic: SyntheticSizes | dict | None = None, seed: int = 0,
                   mix: Mix | None = None) -> TaskData:
    sizes = SyntheticSizes.from_any(synthetic)
    return TaskData(task=task, source="synthetic", splits={
        "train": generate(task, "train", sizes.train_size, seed, mix),
        "dev": generate(task, "dev", sizes.dev_size, seed, mix),
    })
