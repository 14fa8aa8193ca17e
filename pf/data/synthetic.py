"""Built-in synthetic stand-ins for the six GLUE tasks (offline, deterministic).

Every task keeps the GLUE schema (single sentences for SST-2, sentence pairs for the rest,
three labels for MNLI, the label strings of the TSV files) and mixes two kinds of example:

* **easy** ones (share `Mix.easy`), decided by one token: a sentiment word (SST-2), or a
  word such as "someone" / "nobody" / "not" in the second sentence. A model answers them
  after its first layers, so an early exit has something to exploit.
* **hard** ones, whose answer needs several steps of composition. Each task has a small
  hidden "world" drawn from the seed: people, relations between them (friend, boss,
  rival: each a permutation of the people without fixed points) and two-valued attributes
  (talent, city, clothes colour, job, age). A hard example names a person through a chain
  of relations ("the friend of the boss of the rival of ann"); the label depends on an
  attribute of the person the chain resolves to, compared with the value the other
  sentence claims. Resolving the chain means applying one relation per step, innermost
  first, so a chain of k relations needs about k sequential steps: a deep model is ahead
  of a shallow one, and the number of distinct chains grows as 3^k, so long chains cannot
  simply be memorised. Both attribute values are equally frequent, so the claimed value
  alone says nothing. The kind of every example ("easy", "hop1", "hop2", ...) is available
  from `generate_with_kinds` for analyses by difficulty.

`benchmarks/depth_gap.py` measures the resulting gap between a 2-layer and a 12-layer tiny
BERT trained with the same budget.

Generation uses one `random.Random` per (task, split, seed), and the world one per
(task, seed): no global RNG, and the same arguments give the same examples everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from pf.data.base import Example, SyntheticSizes, TaskData
from pf.tasks import TaskSpec

NAMES = ("ann", "bob", "cal", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lee")  # first Mix.n_names
RELATIONS = ("friend", "boss", "rival", "cousin")   # the first Mix.n_relations are used
COLORS = ("red", "blue", "green", "black", "white", "gold", "pink", "gray")
CITIES = ("rome", "oslo", "lima", "kyiv", "bern", "doha", "riga", "sofia")
POSITIVE = ("good", "great", "fine", "lovely", "superb", "charming", "brilliant", "moving")
NEGATIVE = ("bad", "awful", "dull", "boring", "weak", "poor", "terrible", "clumsy")
OPENERS = ("", "", "", "honestly", "overall", "in the end", "for me", "i think")
SUBJECTS = ("the film", "the movie", "the story", "the show", "the play", "the series")
INTENS = ("", "", "really", "very", "quite", "truly", "rather")
EVENTS = ("won the prize", "lost the race", "left early", "sang a song", "paid the bill")
JOBS = ("baker", "farmer", "doctor", "pilot")
# Hidden attributes of the people in the world, two values each.
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "city": ("rome", "oslo"), "color": ("red", "blue"), "job": ("baker", "farmer"),
    "age": ("old", "young"),
}


@dataclass(frozen=True)
class Mix:
    """Share of easy examples and the distribution of chain lengths of the hard ones."""

    easy: float = 0.2
    hops: tuple[int, ...] = (1, 2, 3, 4)
    hop_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    n_names: int = 6               # people in the world (at most len(NAMES))
    n_relations: int = 3           # relations between them (at most len(RELATIONS))


DEFAULT_MIX = Mix()


class World:
    """People, relations (permutations without fixed points) and hidden attributes."""

    def __init__(self, rng: random.Random, mix: "Mix"):
        self.names = NAMES[:mix.n_names]
        self.relations = RELATIONS[:mix.n_relations]
        self.rel: dict[str, dict[str, str]] = {}
        for r in self.relations:
            while True:
                perm = list(self.names)
                rng.shuffle(perm)
                if all(a != b for a, b in zip(self.names, perm)):
                    break
            self.rel[r] = dict(zip(self.names, perm))
        talented = set(rng.sample(self.names, len(self.names) // 2))
        self.talent = {n: int(n in talented) for n in self.names}
        self.attrs: dict[str, dict[str, str]] = {}
        for attr, values in ATTRIBUTES.items():
            first = set(rng.sample(self.names, len(self.names) // 2))
            self.attrs[attr] = {n: values[0] if n in first else values[1] for n in self.names}

    def resolve(self, path: list[str], name: str) -> str:
        """path = [r1, ..., rk] means r1(r2(...rk(name)))."""
        for r in reversed(path):
            name = self.rel[r][name]
        return name

    def start_for(self, path: list[str], target: str) -> str:
        """The name whose `path` resolves to `target` (relations are permutations)."""
        inverse = {r: {v: k for k, v in m.items()} for r, m in self.rel.items()}
        for r in path:
            target = inverse[r][target]
        return target


def of_phrase(path: list[str], name: str) -> str:
    return " ".join(f"the {r} of" for r in path) + f" {name}" if path else name


def _path(rng: random.Random, mix: Mix, world: "World") -> list[str]:
    k = rng.choices(mix.hops, weights=mix.hop_weights, k=1)[0]
    return [rng.choice(world.relations) for _ in range(k)]


Gen = Callable[[random.Random, World, Mix], tuple[str, str | None, str, str]]


# --------------------------------------------------------------------------- tasks
# Each generator returns (text_a, text_b, label string, kind); kind is "easy" or "hopK".


def _sst2(rng, world, mix):
    label = rng.randrange(2)
    subject = rng.choice(SUBJECTS)
    opener = rng.choice(OPENERS)
    if rng.random() < mix.easy:
        adj = rng.choice(POSITIVE if label else NEGATIVE)
        words = [opener, subject, "was", rng.choice(INTENS), adj]
        return " ".join(w for w in words if w) + " .", None, str(label), "easy"
    path = _path(rng, mix, world)
    star = rng.choice([n for n in world.names if world.talent[n] == label])
    name = world.start_for(path, star)
    words = [opener, subject, "starring", of_phrase(path, name)]
    return " ".join(w for w in words if w) + " .", None, str(label), f"hop{len(path)}"


def _attribute_pair(rng, world, mix, attr: str):
    """A hard pair: a chain naming someone, and a claimed value of one of their attributes.

    Returns (chain phrase, claimed value, whether the claim is true, kind)."""
    path, name = _path(rng, mix, world), rng.choice(world.names)
    truth = world.attrs[attr][world.resolve(path, name)]
    holds = rng.random() < 0.5
    value = truth if holds else next(v for v in ATTRIBUTES[attr] if v != truth)
    return of_phrase(path, name), value, holds, f"hop{len(path)}"


def _rte(rng, world, mix):
    labels = ("entailment", "not_entailment")
    if rng.random() < mix.easy:
        label = rng.randrange(2)
        name, city = rng.choice(world.names), rng.choice(CITIES)
        who = "someone" if label == 0 else "nobody"
        return f"{name} lives in {city} .", f"{who} lives in {city} .", labels[label], "easy"
    phrase, city, holds, kind = _attribute_pair(rng, world, mix, "city")
    return f"{phrase} comes from {city} .", "we met them here .", labels[0 if holds else 1], kind


def _mnli(rng, world, mix):
    labels = ("contradiction", "entailment", "neutral")
    if rng.random() < mix.easy:
        label = rng.randrange(3)
        name, color = rng.choice(world.names), rng.choice(COLORS)
        lead = ("nobody", "someone", "maybe someone")[label]
        return f"{name} wears {color} .", f"{lead} wears {color} .", labels[label], "easy"
    phrase, color, holds, kind = _attribute_pair(rng, world, mix, "color")
    if rng.random() < 1 / 3:
        # a colour nobody in the world wears: neither follows nor contradicts
        color = rng.choice([c for c in COLORS if c not in ATTRIBUTES["color"]])
        return "everyone sings .", f"{phrase} wears {color} .", labels[2], kind
    return "everyone sings .", f"{phrase} wears {color} .", labels[1 if holds else 0], kind


def _qnli(rng, world, mix):
    labels = ("entailment", "not_entailment")
    if rng.random() < mix.easy:
        label = rng.randrange(2)
        name = rng.choice(world.names)
        answer = f"{name} lives in {rng.choice(CITIES)} ." if label == 0 else "nobody knows ."
        return f"where does {name} live ?", answer, labels[label], "easy"
    phrase, city, holds, kind = _attribute_pair(rng, world, mix, "city")
    return f"does {phrase} live in {city} ?", "yes , that is true .", labels[0 if holds else 1], kind


def _qqp(rng, world, mix):
    if rng.random() < mix.easy:
        label = rng.randrange(2)
        name, job = rng.choice(world.names), rng.choice(JOBS)
        q1 = f"why is {name} a {job} ?"
        q2 = q1 if label else f"why is {name} not a {job} ?"
        return q1, q2, str(label), "easy"
    # duplicate when the person the chain names has that job anyway
    phrase, job, holds, kind = _attribute_pair(rng, world, mix, "job")
    return f"what does a {job} do ?", f"what does {phrase} do as a {job} ?", str(int(holds)), kind


def _mrpc(rng, world, mix):
    event = rng.choice(EVENTS)
    if rng.random() < mix.easy:
        label = rng.randrange(2)
        name = rng.choice(world.names)
        b = f"yesterday {name} {event} ." if label else f"nobody {event} ."
        return f"{name} {event} .", b, str(label), "easy"
    phrase, age, holds, kind = _attribute_pair(rng, world, mix, "age")
    article = "an" if age == "old" else "a"
    return (f"{article} {age} person {event} .", f"yesterday {phrase} , {article} {age} one , {event} .",
            str(int(holds)), kind)


GENERATORS: dict[str, Gen] = {
    "sst2": _sst2, "mrpc": _mrpc, "qnli": _qnli, "rte": _rte, "qqp": _qqp, "mnli": _mnli,
}


def world_for(task: TaskSpec, seed: int, mix: Mix = DEFAULT_MIX) -> World:
    return World(random.Random(f"pf-synthetic-world/{task.name}/{seed}"), mix)


def generate_with_kinds(task: TaskSpec, split: str, size: int, seed: int,
                        mix: Mix = DEFAULT_MIX) -> list[tuple[Example, str]]:
    """Examples of one split with their kind ("easy", "hop1", "hop2", ...)."""
    world = world_for(task, seed, mix)
    rng = random.Random(f"pf-synthetic/{task.name}/{split}/{seed}")
    gen = GENERATORS[task.name]
    out = []
    for n in range(size):
        a, b, label, kind = gen(rng, world, mix)
        out.append((Example(guid=f"{split}-{n}", text_a=a, text_b=b, label=task.labels.index(label)), kind))
    return out


def generate(task: TaskSpec, split: str, size: int, seed: int, mix: Mix = DEFAULT_MIX) -> list[Example]:
    return [ex for ex, _ in generate_with_kinds(task, split, size, seed, mix)]


def load_synthetic(task: TaskSpec, synthetic: SyntheticSizes | dict | None = None, seed: int = 0,
                   mix: Mix = DEFAULT_MIX) -> TaskData:
    sizes = SyntheticSizes.from_any(synthetic)
    return TaskData(task=task, source="synthetic", splits={
        "train": generate(task, "train", sizes.train_size, seed, mix),
        "dev": generate(task, "dev", sizes.dev_size, seed, mix),
    })
