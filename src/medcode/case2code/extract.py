"""Concepts in a note: each place a main term of the Alphabetic Index is written, walked down the
Index with the words around it.

A *mention* is one main term at one place in the note, with the best Index path its clause supports,
the tokens that path used (its evidence) and the context of its words (negated, uncertain, past, a
relative's). When a main term appears twice in a clause ("open fracture of the tibia and a closed
fracture of the fibula"), each occurrence gets the words up to the list separator before the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import lexicon
from .context import ALLERGY, FAM, HIST, HYP, NEG, UNC, VACCINE, Context
from .index import Pool, Tree, Walk
from .text import Note, canon

# main terms that name no condition by themselves: kept only when a subterm was found
GENERIC_MAIN = {canon(w) for w in (
    "history", "status", "examination", "exam", "follow", "encounter", "admission", "observation", "care", "test",
    "problem", "findings", "finding", "change", "complication", "disease", "disorder", "syndrome", "injury",
    "condition", "use", "long", "screening", "visit", "plan", "presence", "absence", "dependence", "reaction",
    "failure", "infection", "lesion", "mass", "abnormal", "abnormality", "pain", "fall", "loss", "defect",
    "deficiency", "insufficiency", "late", "effect", "effects", "cast", "reduction", "healing", "growth",
    "development", "record", "alert", "exposure", "counseling", "pregnancy", "delivery", "labor", "birth",
    "newborn", "weeks", "weight", "age", "agreement", "contact", "therapy", "treatment", "removal", "procedure",
    "wound", "fitting", "adjustment", "supervision", "vaccination", "immunization", "outcome", "term", "pressure",
    "surveillance", "stress", "tension", "maintenance", "aftercare", "intake", "operation", "surgery", "sign",
    "signs", "symptom", "symptoms", "difficulty", "impairment", "noncompliance", "underdosing",
    "dietary", "diet", "conditioning", "evaluation", "assessment", "debility", "dysfunction", "hypertrophy",
    "enlargement", "stricture", "obstruction", "ulcer", "edema", "hemorrhage", "collapse", "crisis", "arrest",
    "attack", "episode", "anomaly", "tumor", "growth", "cyst", "nodule", "polyp", "discharge", "trauma", "burn",
    "bite", "foreign", "tear", "rupture", "strain", "sprain", "dislocation", "contusion", "laceration",
    "abrasion", "puncture", "amputation", "crushing", "stenosis", "atrophy", "degeneration", "calcification",
    "fibrosis", "sclerosis", "necrosis", "inflammation", "hyperplasia", "dilatation", "displacement",
    "deformity", "curvature", "malposition", "prolapse", "hernia", "spasm", "paralysis", "weakness", "block",
    "occlusion", "embolism", "thrombosis", "infarct", "ischemia", "angina", "aneurysm", "varix", "fistula",
    "abscess", "cellulitis", "gangrene", "carcinoma", "cancer", "neoplasm", "metastasis", "leukemia",
    "lymphoma", "anemia",
)}
# of those, the ones a clinician writes bare and means ("pain", "anemia"): their level-0 code is
# kept, as a symptom or an unspecified condition
BARE_OK = {canon(w) for w in ("pain", "anemia", "fall", "weakness", "edema", "syncope", "angina", "hernia",
                              "obstruction", "gangrene", "cellulitis", "abscess", "spasm", "paralysis",
                              "tumor", "cancer", "carcinoma", "leukemia", "lymphoma", "embolism",
                              "thrombosis", "infection", "fibrosis", "sclerosis", "aneurysm", "ulcer",
                              "hemorrhage", "crisis")}
# bare words that are not a condition in a note at all
NOT_A_CONDITION = {canon(w) for w in ("fall", "crisis", "tumor", "infection", "hemorrhage", "ulcer", "sclerosis",
                                      "fibrosis", "spasm", "obstruction", "paralysis")}
# everyday words that are also Index main terms: never a condition on their own
COMMON_WORDS = {canon(w) for w in (
    "old", "impression", "presentation", "present", "presents", "presented", "responder", "removal", "fitting",
    "fitted", "x-ray", "xray", "abnormal", "abnormity", "anomaly", "pressure", "anticoagulant", "anticoagulation",
    "routine", "review", "check", "plan", "visit", "care", "test", "change", "alignment", "healing", "growth",
    "development", "reduction", "cast", "exam", "examination", "follow", "status", "history", "record",
    "counseling", "counseled", "return", "admission", "admitted", "discharge", "discharged", "transfer",
    "contact", "exposure", "problem", "findings", "finding", "result", "results", "normal", "positive",
    "negative", "stable", "mild", "moderate", "severe", "acute", "chronic", "left", "right", "bilateral", "day",
    "week", "weeks", "month", "year", "years", "time", "times", "episode", "episodes", "agreement", "level",
    "use", "user", "therapy", "treatment", "management", "dose", "doses", "medication", "medications", "drug",
    "drugs", "infusion", "fluids", "fluid", "oxygen", "tube", "line", "device", "implant", "graft", "catheter",
    "family", "mother", "father", "child", "infant", "baby", "newborn", "birth", "born", "labor", "work",
    "worker", "game", "school", "church", "home", "house", "ice", "water", "heat", "cold", "food", "diet",
    "exercise", "activity", "rest", "sleep", "stress", "tension", "strain", "loss", "weight", "height",
    "mass", "body", "term", "late", "early", "delay", "delayed", "failure", "complication", "effect", "effects",
    "agent", "state", "condition", "syndrome", "disease", "disorder", "injury", "wound", "puncture",
    "penetration", "contusion", "crush", "collision", "impact", "tolerance", "reaction", "sensitivity",
    "insensitivity", "intolerance", "resistance", "misuse", "overdose",
)}
# everyday words that lead to a condition only with a clear subterm ("old" -> "Old, myocardial infarction")
EVERYDAY = {canon(w) for w in (
    "old", "impression", "presentation", "present", "presents", "presented", "responder", "removal", "fitting",
    "fitted", "routine", "review", "check", "plan", "visit", "care", "test", "change", "alignment", "healing",
    "growth", "development", "reduction", "cast", "record", "return", "admission", "admitted", "discharge",
    "transfer", "result", "normal", "positive", "negative", "stable", "day", "week", "month", "year", "time",
    "level", "work", "game", "school", "church", "home", "house", "ice", "water", "heat", "cold", "food",
    "exercise", "activity", "rest", "sleep", "term", "late", "early", "agent", "state", "impact", "collision",
    "family", "mother", "father", "child", "infant", "baby", "born", "birth", "age", "percentile",
    "complicated", "complication", "complications", "requiring", "required",
)}


_DRUG_WORDS: dict[int, set[str]] = {}


def tree_drugs(tree: Tree) -> set[str]:
    """Single-word substances of the Table of Drugs (filled by the engine), by the Index tree's id."""
    return _DRUG_WORDS.get(id(tree), set())


@dataclass
class Mention:
    id: int
    main: int                   # main term node id
    anchor: tuple[int, ...]     # token positions of the main term's words
    walk: Walk
    pool: Pool
    clause: int
    section: str
    states: set[str]
    score: float
    tree: Tree = field(repr=False, default=None)
    code: str | None = None     # the Index's code (maybe incomplete: "S52.53-")
    kind: str = "index"
    fate: str = "current"       # current | negated | uncertain | history | family | hypothetical
    absorbed_by: int | None = None
    notes: list[str] = field(default_factory=list)
    region: tuple[int, int] = (0, 0)
    quals: frozenset = frozenset()
    wtree: Tree = field(repr=False, default=None)  # the table the walk went down (Index or Neoplasm Table)

    @property
    def walk_tree(self) -> Tree:
        return self.wtree or self.tree

    @property
    def used(self) -> set[int]:
        return set(self.anchor) | self.walk.used

    @property
    def evidence(self) -> set[int]:
        near = {i for i in self.pool.opt_used if abs(i - self.anchor[0]) <= 6}
        return self.used | near

    @property
    def path(self) -> str:
        if not self.walk.nodes:
            return self.tree.nodes[self.main].path
        parts = [self.tree.nodes[self.main].path]
        prev = self.main
        if self.walk.neoplasm:
            last = self.walk_tree.nodes[self.walk.nodes[-1]]
            return f"{parts[0]} \u2192 Table of Neoplasms: {last.path}"
        for n in self.walk.nodes:
            node = self.tree.nodes[n]
            if node.parent == prev or node.parent is None:
                parts.append(node.term if node.parent is not None else node.path)
            else:
                parts.append("\u2192 " + node.path)
            prev = n
        out = parts[0]
        for p in parts[1:]:
            out += (" " if p.startswith("\u2192") else ", ") + p
        return out

    def words(self) -> set[str]:
        """The concept's words: the Index path's and the main term's."""
        out = set(self.tree.nodes[self.main].req) | self.walk_tree.path_words(self.walk.nodes)
        return out

    @property
    def main_stem(self) -> str:
        req = self.tree.nodes[self.main].req
        return req[0] if req else ""


def site_words(stem: str) -> list[str]:
    return [canon(w) for w in SITE_IMPLIES.get(stem, ())]


SITE_IMPLIES = {}
for _words, _implied in (
        (("metatarsophalangeal", "mtp", "toe", "toes", "hallux", "metatarsal", "bunion", "podagra", "midfoot",
          "forefoot", "hindfoot", "calcaneus", "heel"), ("foot",)),
        (("finger", "fingers", "thumb", "metacarpophalangeal", "mcp", "pip", "dip", "interphalangeal", "knuckle",
          "metacarpal"), ("hand",)),
        (("cornea", "corneal", "conjunctiva", "retina", "retinal", "iris", "lens", "eyelid"), ("eye",)),
        (("tympanic", "eardrum", "cochlea", "auditory"), ("ear",)),
        (("lumbar",), ("lumbar", "region")), (("cervical",), ("cervical",)),
        (("shin",), ("tibia",)), (("thigh",), ("femur",)),
        (("wrist",), ("wrist",)), (("hip",), ("hip",))):
    for _w in _words:
        SITE_IMPLIES[canon(_w)] = _implied


def build_pool(note: Note, ctx: Context, lo: int, hi: int, anchor: tuple[int, ...], states: set[str]) -> Pool:
    """The words from token lo to hi a main term at `anchor` may use: affirmed and negated words of the
    same standing (a current condition does not take words from a history clause)."""
    pool = Pool(anchor=anchor[0] if anchor else lo)
    core = {s for s in states if s in (HIST, FAM, HYP, ALLERGY, UNC, VACCINE)}
    toks = note.tokens
    for i in range(lo, hi):
        t = toks[i]
        if i in anchor or t.kind == "punct" or i in ctx.cue_tokens:
            continue
        st = ctx.of(i)
        other = {s for s in st if s in (HIST, FAM, HYP, ALLERGY, UNC, VACCINE)}
        if other != core:
            continue
        negated = NEG in st and NEG not in states
        if t.low in ("with", "of") or not t.stem:
            continue
        pool.add(t.stem, i, negated)
        for extra in site_words(t.stem):
            pool.add(extra, i, negated)
        # hyphenated words also read joined ("vaso-occlusive" -> vasoocclusive)
        if i + 2 < hi and toks[i + 1].text == "-" and toks[i + 1].start == t.end and toks[i + 2].start == toks[i + 1].end:
            pool.add(canon(t.low + toks[i + 2].low), i, negated)
    return pool


def _occurrences(note: Note, ctx: Context, tree: Tree, a: int, b: int):
    """(position in content list, anchor length, candidates) for each main-term occurrence in a clause."""
    toks = note.tokens
    cpos = [i for i in range(a, b) if toks[i].kind != "punct" and toks[i].content and i not in ctx.cue_tokens]
    stems = [toks[i].stem for i in cpos]
    found: dict[tuple[int, int], list] = {}
    for j, st in enumerate(stems):
        for anchor, nid, quals in tree.anchors.get(st, ()):
            n = len(anchor)
            if tuple(stems[j:j + n]) != anchor:
                continue
            span = tuple(cpos[j:j + n])
            if n > 1 and span[-1] - span[0] > 2 * n:
                continue
            found.setdefault((j, n), []).append((nid, quals, span))
    # drop an occurrence inside a longer one ("fracture" inside "Colles fracture")
    keys = sorted(found, key=lambda k: -k[1])
    taken: list[set[int]] = []
    out = []
    for key in keys:
        span = set(found[key][0][2])
        if any(span < t for t in taken):
            continue
        taken.append(span)
        out.append((key, found[key]))
    out.sort(key=lambda x: x[0][0])
    return cpos, out


def _regions(note: Note, a: int, b: int, starts: list[int]) -> list[tuple[int, int]]:
    """Split a clause between repeated occurrences of one main term at the last list separator."""
    toks = note.tokens
    bounds = [a]
    for k in range(1, len(starts)):
        lo, hi = starts[k - 1], starts[k]
        cut = None
        for i in range(hi - 1, lo, -1):
            if toks[i].text in (",", "and", "or", ";") or toks[i].low in ("and", "or", "while", "versus", "vs"):
                cut = i + 1
                break
        bounds.append(cut if cut is not None else (lo + hi + 1) // 2)
    bounds.append(b)
    return [(bounds[k], bounds[k + 1]) for k in range(len(starts))]


def _subjects(note: Note, a: int, b: int) -> list[tuple[int, int]]:
    """A clause cut where another person becomes the subject ("..., father had ...")."""
    toks = note.tokens
    cuts = [a]
    for i in range(a + 1, b):
        if toks[i].low in lexicon.RELATIVES and (toks[i - 1].text in (",", ";") or toks[i - 1].low in ("and", "her",
                                                                                                     "his")):
            cuts.append(i - 1 if toks[i - 1].low in ("her", "his") else i)
    cuts.append(b)
    return [(cuts[k], cuts[k + 1]) for k in range(len(cuts) - 1)]


def find_mentions(note: Note, ctx: Context, tree: Tree, neo: Tree | None = None) -> list[Mention]:
    mentions: list[Mention] = []
    pools: dict = {}
    for c, (a, b) in enumerate(note.clauses):
        cpos, occ = _occurrences(note, ctx, tree, a, b)
        if not occ:
            continue
        by_stem: dict[str, list[int]] = {}
        for k, ((j, n), cands) in enumerate(occ):
            by_stem.setdefault(note.tokens[cpos[j]].stem, []).append(k)
        region: dict[int, tuple[int, int]] = {}
        for stem_, ks in by_stem.items():
            starts = [cpos[occ[k][0][0]] for k in ks]
            for k, r in zip(ks, _regions(note, a, b, starts)):
                region[k] = r
        subjects = _subjects(note, a, b)
        for k, ((j, n), cands) in enumerate(occ):
            lo, hi = region[k]
            at = cpos[j]
            for s0, s1 in subjects:  # "mother with X, father with Y": each relative's own words
                if s0 <= at < s1:
                    lo, hi = max(lo, s0), min(hi, s1)
            best = None
            for nid, quals, span in cands:
                m = evaluate(note, ctx, tree, nid, quals, span, lo, hi, c, neo=neo, pools=pools)
                if m is None:
                    continue
                key = (m.score, m.walk.code is not None or m.code is not None, -nid)
                if best is None or key > best[0]:
                    best = (key, m)
            if best is not None:
                m = best[1]
                m.id = len(mentions)
                mentions.append(m)
    return mentions


def evaluate(note: Note, ctx: Context, tree: Tree, nid: int, quals, span, lo, hi, clause,
             augment: list[tuple[str, int]] = (), shared: dict | None = None, blocked: frozenset = frozenset(),
             neo: Tree | None = None, pools: dict | None = None, base: Pool | None = None) -> Mention | None:
    node = tree.nodes[nid]
    neoplasm = neo is not None and "neoplasm" in f"{node.see or ''} {node.see_also or ''}".lower()
    if node.code is None and not node.children and not neoplasm and (
            not node.see or node.see.lower().startswith("condition")):
        return None
    states = set()
    for i in span:
        states |= ctx.of(i)
    key = (lo, hi, tuple(span), frozenset(states))
    if base is not None:
        pool = Pool({k: list(v) for k, v in base.pos.items()}, {k: list(v) for k, v in base.neg.items()}, {},
                    list(base.nums), base.anchor, base.skip_cost)
    elif pools is not None and key in pools and not augment and not shared:
        base = pools[key]
        pool = Pool(dict(base.pos), dict(base.neg), {}, list(base.nums), base.anchor, base.skip_cost)
    else:
        pool = build_pool(note, ctx, lo, hi, span, states)
        if pools is not None and not augment and not shared:
            pools[key] = Pool(dict(pool.pos), dict(pool.neg), {}, list(pool.nums), pool.anchor, pool.skip_cost)
    for stem, pos in augment:
        pool.add(stem, pos)
    if shared:
        pool.shared = shared
        pool.owner = nid
    bonus = 0.0
    missing = False
    if "\u2191" in quals:
        if not all(note.tokens[i].upper for i in span):
            return None
        quals = frozenset(quals) - {"\u2191"}
    for q in quals:
        if q in pool.neg:
            return None
        if q in pool.pos:
            bonus += 0.8
        else:
            bonus -= 0.4
            missing = True
    walk = tree.walk(nid, pool, skips=0, spent=frozenset(node.req), blocked=blocked)
    code = walk.code if walk.nodes else node.code
    followed = False
    if not walk.nodes and node.code is None and node.see:
        follow = tree.follow_main(node, pool, blocked=blocked)
        if follow is not None:
            walk = follow
            code = follow.code
            followed = True
    if code is None and neoplasm and not walk.nodes:
        found = neoplasm_walk(neo, pool, note)
        if found is not None:
            walk, code = found
            walk.neoplasm = True
    if code is None:
        return None
    if missing and (not walk.nodes or followed):
        return None  # "Anticoagulant, circulating" is not "anticoagulation"; "Wound, superficial" not "wound"
    if not node.children and node.see and walk.nodes:
        bonus -= 0.3  # a main term that only points elsewhere loses to one that holds the subterms
    if missing and node.code:
        bonus += 0.2  # "Fracture, traumatic" (T14.8) over "Fracture, pathological" when the note says neither
    stem0 = node.req[0] if node.req else ""
    said = note.tokens[span[0]].stem
    if len(span) == 1 and (stem0 in COMMON_WORDS or said in COMMON_WORDS) and not walk.nodes:
        return None
    if len(span) == 1 and said in EVERYDAY and walk.score < 1.5:
        return None
    if len(span) == 1 and said in tree_drugs(tree) and node.code is None and walk.score < 1.5:
        return None  # "oral steroids" is a drug, not "Steroid, responder"
    if not walk.nodes and stem0 in GENERIC_MAIN and stem0 not in BARE_OK:
        return None
    if not walk.nodes and stem0 in NOT_A_CONDITION:
        return None
    used_quals = {pool.nearest(pool.pos[q]) for q in quals if q in pool.pos}
    walk.used |= used_quals
    score = len(span) + bonus + walk.score
    section = note.tokens[span[0]].section
    m = Mention(0, nid, tuple(span), walk, pool, clause, section, states, score, tree, code)
    m.region, m.quals = (lo, hi), frozenset(quals)
    if walk.neoplasm:
        m.wtree = neo
    return m


_COLUMNS = (("Malignant Secondary", ("metastatic", "metastasis", "metastases", "mets", "secondary", "spread")),
            ("Ca in situ", ("situ",)),
            ("Benign", ("benign", "adenoma", "lipoma", "fibroma", "papilloma")),
            ("Uncertain Behavior", ("uncertain",)))


def neoplasm_walk(neo: Tree, pool: Pool, note: Note):
    """'breast cancer' -> Table of Neoplasms, breast, Malignant Primary (the Index's "see Neoplasm, by site,
    malignant"). Returns (walk, cell code) or None when the note names no site the Table lists."""
    main = next((n for a, n, _q in neo.anchors.get(canon("neoplasm"), ()) if neo.nodes[n].parent is None), None)
    if main is None:
        return None
    walk = neo.walk(main, pool, skips=0)
    if not walk.nodes:
        return None
    node = neo.nodes[walk.nodes[-1]]
    column = "Malignant Primary"
    for name, words in _COLUMNS:
        if any(canon(w) in pool.pos for w in words):
            column = name
            break
    code = node.cells.get(column)
    if not code:
        return None
    walk.code = code
    return walk, code


def fate_of(m: Mention, setting: str) -> str:
    st = m.states
    if HYP in st or VACCINE in st:
        return "hypothetical"
    if ALLERGY in st:
        return "allergy"
    if NEG in st:
        return "negated"
    if FAM in st:
        return "family"
    if HIST in st or "pmh" in st:
        return "history"
    if UNC in st:
        return "uncertain"
    return "current"


def is_chronic(m: Mention) -> bool:
    term = m.tree.nodes[m.main].term.lower().split(",")[0].strip()
    return canon(term) in {canon(w) for w in lexicon.CHRONIC_MAIN_TERMS}
