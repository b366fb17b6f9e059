"""Small curated word lists the engine reads notes with: context cues, section names, chart
shorthand the search table does not carry, and the few spellings the Index treats as one.

Everything here is about reading English clinical text; codes come from the Book only (the Index,
the Tabular and its notes). Written for medcode from coding and clinical-documentation knowledge.
"""

from __future__ import annotations

# --- shorthand written with a slash or ampersand (tokenized whole) ---------------------------
SLASH_SHORTHAND = {
    "s/p": "status post", "h/o": "history of", "w/": "with", "w/o": "without", "c/o": "complains of",
    "r/o": "rule out", "b/l": "bilateral", "n/v": "nausea vomiting", "y/o": "year old", "f/u": "follow-up",
    "d/t": "due to", "2/2": "secondary to", "a/c": "acute on chronic", "n&v": "nausea vomiting",
    "a&o": "alert oriented", "hx/o": "history of", "p/w": "presents with", "c/w": "consistent with",
    "e. coli": "escherichia coli", "e.coli": "escherichia coli", "h. pylori": "helicobacter pylori",
    "h.pylori": "helicobacter pylori", "c. diff": "clostridioides difficile", "c. difficile": "clostridioides difficile",
    "s. aureus": "staphylococcus aureus", "p. aeruginosa": "pseudomonas aeruginosa",
}
# words the stemmer would confuse with an Index word ("inhaler" is not "inhalant")
NO_STEM = {"inhaler", "inhalers", "nebulizer", "nebulizers", "responded", "presents", "pump"}

# --- search-table entries not used here ---------------------------------------------------------
# everyday English words, or chart words that mean something else in a note ("ED" is the emergency
# department, "cold" is a temperature, "cut" a verb); some are used only when written in capitals.
SYNONYM_SKIP = frozenset({
    "ed", "cut", "cold", "gas", "mole", "boil", "fits", "sugar", "stitches", "scrape", "shaking", "weed", "meth",
    "tired", "tiredness", "stent", "bruise", "he", "hi", "it", "or", "oe", "r", "l", "w", "initial", "pd", "hd",
    "stroke", "reflux", "strep", "staph", "mono", "cp", "ca", "as", "ad", "ai", "ar", "mr", "ms", "tr", "et", "sb",
    "om", "rd", "dr", "di", "he", "ha", "hl", "af", "cd", "sk", "ak", "hs", "ns", "ui", "mm", "pe", "mg", "si",
    "ua", "tab", "sab", "dme", "add", "pac", "ppd", "ra", "vf", "vt", "ptx", "cap", "nos", "nec", "le", "ue",
    "seq", "sequelae", "subs", "fu", "rx", "tx", "dx", "sx", "pos", "neg", "mod", "sev", "lat", "dist", "prox",
    "lap", "perc", "peds", "ortho", "ob", "gyn", "gi", "gu", "cv", "resp", "neuro", "psych", "msk", "ga", "wks",
    "late effect", "acute on chronic",
    "twisted ankle", "sprained ankle", "broken bone", "bad back", "back pain", "low back pain",
    "history of falls", "frequent falls", "cabg", "loc", "tbi", "head injury",
})
NEEDS_CAPITALS = frozenset({("pna",), ("aki",), ("copd",), ("chf",), ("cad",), ("mi",), ("hf",), ("uti",),
                            ("dka",), ("gerd",), ("osa",), ("bph",), ("pvd",), ("pad",), ("dvt",), ("aaa",),
                            ("tia",), ("cva",), ("sah",), ("sdh",), ("ich",), ("als",), ("ards",), ("ibs",),
                            ("uc",), ("cf",), ("tb",), ("std",), ("sti",), ("hiv",), ("aids",), ("mrsa",),
                            ("mds",), ("cll",), ("aml",), ("cml",), ("nhl",), ("ida",), ("itp",), ("ttp",),
                            ("dic",), ("scd",), ("sle",), ("pmr",), ("jia",), ("jra",), ("oa",), ("djd",)})

# chart phrases the search table does not carry -> the index's words
EXTRA_SYNONYMS = {
    "home oxygen": "dependence supplemental oxygen",
    "on hemodialysis": "dependence renal dialysis", "on dialysis": "dependence renal dialysis",
    "on peritoneal dialysis": "dependence renal dialysis",
    "home o2": "dependence supplemental oxygen",
    "supplemental oxygen at home": "dependence supplemental oxygen",
    "well visit": "examination child",
    "well child": "examination child",
    "well-child": "examination child",
    "well child check": "examination child",
    "well-child check": "examination child",
    "well baby": "examination child",
    "well woman": "examination gynecological", "well-woman": "examination gynecological",
    "well woman exam": "examination gynecological", "well-woman exam": "examination gynecological",
    "well child exam": "examination child",
    "wellness visit": "examination medical general",
    "annual physical": "examination medical general",
    "routine physical": "examination medical general",
    "dm": "diabetes",
    "t1dm": "diabetes type 1", "t2dm": "diabetes type 2", "dm1": "diabetes type 1", "dm2": "diabetes type 2",
    "type 1 dm": "diabetes type 1", "type 2 dm": "diabetes type 2", "type i dm": "diabetes type 1",
    "type ii dm": "diabetes type 2", "type ii diabetes": "diabetes type 2", "type i diabetes": "diabetes type 1",
    "ckd": "chronic kidney disease",
    "ckd 1": "chronic kidney disease stage 1", "ckd 2": "chronic kidney disease stage 2",
    "ckd 3": "chronic kidney disease stage 3", "ckd 3a": "chronic kidney disease stage 3a",
    "ckd 3b": "chronic kidney disease stage 3b", "ckd 4": "chronic kidney disease stage 4",
    "ckd 5": "chronic kidney disease stage 5",
    "ckd stage 1": "chronic kidney disease stage 1", "ckd stage 2": "chronic kidney disease stage 2",
    "ckd stage 3": "chronic kidney disease stage 3", "ckd stage 3a": "chronic kidney disease stage 3a",
    "ckd stage 3b": "chronic kidney disease stage 3b", "ckd stage 4": "chronic kidney disease stage 4",
    "ckd stage 5": "chronic kidney disease stage 5",
    "esrd": "end stage renal disease", "eskd": "end stage renal disease",
    "htn": "hypertension", "hbp": "hypertension",
    "chf": "congestive heart failure", "hfref": "heart failure systolic", "hfpef": "heart failure diastolic",
    "copd": "chronic obstructive pulmonary disease",
    "aecopd": "chronic obstructive pulmonary disease with acute exacerbation",
    "uri": "upper respiratory infection", "urti": "upper respiratory infection",
    "afib": "atrial fibrillation", "a-fib": "atrial fibrillation", "a fib": "atrial fibrillation",
    "snhl": "sensorineural hearing loss",
    "npdr": "nonproliferative diabetic retinopathy", "pdr": "proliferative diabetic retinopathy",
    "poag": "primary open-angle glaucoma",
    "dka": "diabetic ketoacidosis",
    "svd": "spontaneous vaginal delivery", "nsvd": "normal spontaneous vaginal delivery",
    "hb ss": "hb-ss disease", "hbss": "hb-ss disease",
    "orif": "open reduction internal fixation",
    "loc": "loss of consciousness",
}

# word-level spellings read as one word
SPELLING = {
    "strep": "streptococcal", "staph": "staphylococcal", "ecoli": "escherichia",
    "inhalers": "inhaler", "nebulizers": "nebulizer",
    "both": "bilateral", "bilaterally": "bilateral", "bilat": "bilateral",
    "rt": "right", "lt": "left", "hx": "history", "pmh": "history", "yo": "year",
    "hypoxemia": "hypoxia", "hypoxemic": "hypoxia", "hypoxic": "hypoxia", "hypercarbia": "hypercapnia",
    "hypercarbic": "hypercapnia", "hypercapnic": "hypercapnia",
    "tolerates": "tolerance", "tolerated": "tolerance", "tolerating": "tolerance",
    "liveborn": "liveborn", "live-born": "liveborn",
    "vasoocclusive": "vasoocclusive",
    "eyes": "eye", "ears": "ear", "lower": "low", "exam": "examination", "exams": "examination",
}

# stem-level equivalences (after search.text.stem)
CANON_PAIRS = [
    ("renal", "kidney"), ("cardiac", "heart"), ("pulmonary", "lung"), ("hepatic", "liver"),
    ("ocular", "eye"), ("cutaneous", "skin"), ("cerebral", "brain"), ("osseous", "bone"),
    ("nephropathy", "nephropathy"), ("fetal", "fetus"),
]

# --- sections (a header word before a colon) --------------------------------------------------
SECTIONS = {
    "assessment": {"assessment", "assessment and plan", "a/p", "a&p", "diagnosis", "diagnoses", "impression",
                   "impressions", "final diagnosis", "final diagnoses", "discharge diagnosis",
                   "discharge diagnoses", "principal diagnosis", "secondary diagnoses", "clinical impression",
                   "dx", "assessment/plan", "problem list", "problems", "secondary", "secondary diagnosis",
                   "other diagnoses", "additional diagnoses"},
    "plan": {"plan", "recommendations", "disposition", "follow-up", "follow up"},
    "history": {"pmh", "past medical history", "medical history", "past history", "psh",
                "past surgical history", "surgical history", "history"},
    "family": {"fh", "family history", "fhx", "family hx"},
    "social": {"sh", "social history", "social"},
    "allergies": {"allergies", "allergy", "drug allergies", "nkda"},
    "medications": {"medications", "meds", "current medications", "home medications", "discharge medications"},
    "ros": {"ros", "review of systems"},
    "exam": {"exam", "examination", "physical exam", "pe", "dilated exam", "slit lamp", "vitals", "vital signs"},
    "findings": {"x-ray", "x-rays", "xray", "ct", "mri", "imaging", "labs", "audiogram", "ekg", "ecg",
                 "results", "findings", "ultrasound", "radiology"},
    "complaint": {"cc", "chief complaint", "reason for visit", "hpi", "history of present illness",
                  "admitting diagnosis", "admission diagnosis", "reason for admission",
                  "subjective", "presenting complaint"},
}

# --- context cues ------------------------------------------------------------------------------
# each cue is a tuple of lower-case words; matched on the token stream
NEGATION_PRE = [
    "no", "not", "denies", "denied", "deny", "denying", "without", "w/o", "negative for", "neg for",
    "free of", "absence of", "absent", "no evidence of", "no sign of", "no signs of", "no history of",
    "never had", "never", "rules out", "ruled out", "no prior diagnosis of", "no known",
    "not in", "no longer", "nor",
]
# "tetanus updated", "flu shot": a vaccine, not the disease
VACCINE_POST = ["updated", "booster", "shot", "vaccine", "vaccination", "immunization", "toxoid", "up to date",
                "administered", "given", "vaccinated"]
NEGATION_POST = ["negative", "ruled out", "absent", "unremarkable", "not seen", "not present",
                 "was excluded", "were excluded", "is excluded", "excluded", "normal", "clear", "denied"]
PSEUDO_NEGATION = ["no increase", "no change", "not only", "no further", "not necessarily", "without difficulty",
                   "gram negative", "no improvement", "not improve",
                   "not improved", "not afford", "not yet", "cannot be ruled out", "can not be ruled out",
                   "could not", "can not", "cannot", "did not", "does not", "not responding"]
UNCERTAIN_PRE = [
    "rule out", "r/o", "probable", "probably", "possible", "possibly", "suspected", "suspect", "suspicion of",
    "suspicious for", "likely", "questionable", "question of", "concern for", "concerning for", "consistent with",
    "compatible with", "cannot exclude", "cannot rule out", "can not rule out", "not ruled out",
    "may have", "may be", "presumed", "presumptive", "differential", "differential diagnosis", "versus", "vs",
    "suggestive of", "worrisome for", "indicative of", "working diagnosis", "to be ruled out",
]
UNCERTAIN_POST = ["suspected", "is likely", "likely", "is possible", "is probable", "not excluded", "?"]
HISTORY_PRE = ["history of", "hx of", "past history of", "personal history of", "status post",
               "prior", "previous", "previously", "remote", "completed treatment for", "after completing",
               "completing", "completed", "resolved", "recovered from", "past medical history of"]
HISTORY_POST = ["resolved", "in the past", "has resolved", "now resolved", "since resolved", "none since"]
FAMILY_PRE = ["family history of", "family history", "fh of", "fhx of", "fh", "fhx", "familial history of"]
RELATIVES = {"mother", "father", "sister", "brother", "son", "daughter", "grandmother", "grandfather", "aunt",
             "uncle", "cousin", "sibling", "siblings", "parent", "parents", "mom", "dad", "maternal", "paternal",
             "grandparent", "grandparents", "wife", "husband", "spouse", "partner", "niece", "nephew"}
HYPOTHETICAL_PRE = ["reacts with", "reacted with", "reaction to", "reactions to", "if", "in case of",
                    "precautions", "return if", "return for", "call if", "watch for", "monitor for",
                    "signs of", "risk of", "risk for", "at risk", "prevent", "prevention of", "screening for",
                    "screen for", "counseled on", "educated on", "education on", "vaccine for", "vaccines for"]
# words that end a cue's reach
# a list after a negation stops at a qualifier ("without aura, intractable, with status migrainosus")
LIST_BREAKERS = {"intractable", "not", "with", "without", "uncomplicated", "complicated", "controlled",
                 "uncontrolled", "mild", "moderate", "severe", "acute", "chronic", "stable", "recurrent", "single",
                 "bilateral", "left", "right", "initial", "subsequent", "type", "stage", "unspecified", "persistent",
                 "worsening", "improving", "resolved", "positive", "present"}
SCOPE_END = {"but", "however", "although", "though", "except", "aside", "apart", "which", "who", "whose",
             "presents", "presented", "presenting", "now", "since", "admitted", "reports", "complains",
             "developed", "diagnosed", "found", "treated", "started", "given", "underwent", "today",
             "currently", "patient", "pt", "she", "he", "they", "continues", "remains", "still", "then"}

# --- encounter words ---------------------------------------------------------------------------
SUBSEQUENT_CUES = ["follow-up", "follow up", "followup", "f/u", "recheck", "re-check", "routine healing",
                   "cast change", "cast changed", "suture removal", "weeks after", "week after", "days after",
                   "months after", "post-op", "postoperative visit", "healing", "aftercare", "subsequent"]
SEQUELA_CUES = ["sequela", "sequelae", "late effect", "residual", "as a result of old", "scar from"]
INITIAL_CUES = ["presents", "presented", "brought in", "arrives", "arrived", "ed:", "emergency", "acute",
                "sustained", "initial", "today after", "this morning", "taken to the or", "splinted", "reduced"]

# conditions a coder keeps as current when a note says "history of" them (still treated)
CHRONIC_MAIN_TERMS = {
    "hypertension", "diabetes", "asthma", "disease", "failure", "hypothyroidism", "hyperthyroidism",
    "hyperlipidemia", "hypercholesterolemia", "fibrillation", "flutter", "depression", "disorder", "epilepsy",
    "osteoarthritis", "arthritis", "osteoporosis", "obesity", "anemia", "cirrhosis", "hepatitis", "dementia",
    "schizophrenia", "psoriasis", "gout", "glaucoma", "apnea", "dependence", "parkinsonism", "sclerosis",
    "lupus", "migraine", "insufficiency", "cardiomyopathy", "neuropathy", "hyperplasia", "colitis",
    "enteritis", "infection", "bronchitis", "emphysema",
}

# procedures whose history means an organ is absent: word -> the Index words "Absence, <organ>"
ABSENCE_AFTER = {
    "mastectomy": "breast", "nephrectomy": "kidney", "splenectomy": "spleen", "hysterectomy": "uterus",
    "thyroidectomy": "thyroid", "pneumonectomy": "lung", "lobectomy": "lung", "gastrectomy": "stomach",
    "prostatectomy": "prostate", "oophorectomy": "ovary", "orchiectomy": "testis", "colectomy": "intestine large",
    "enucleation": "eye", "pancreatectomy": "pancreas",
}
# past procedures that leave a status code: word -> Index path
STATUS_AFTER = {"cabg": "Status, aortocoronary bypass", "pci": "Status, angioplasty, coronary artery",
                "ptca": "Status, angioplasty, coronary artery", "tavr": "Presence, heart valve, prosthetic",
                "pacemaker": "Presence, cardiac, pacemaker", "aicd": "Presence, cardiac, defibrillator",
                "icd": "Presence, cardiac, defibrillator"}
PROCEDURE_WORDS = ("ectomy", "otomy", "ostomy", "plasty", "surgery", "operation", "procedure", "resection",
                   "repair", "removal", "transplant", "reduction", "fixation", "excision", "ablation", "bypass",
                   "replacement", "amputation", "radiation", "chemotherapy", "radiotherapy", "irradiation")

# Z79 long-term drug therapy by drug (Guidelines I.C.21.c.3): drug classes from the Table of Drugs
# (T-code category of the drug's row) and a few agents the table does not list.
Z79_BY_T_CATEGORY = {
    "T45.51": "Long-term anticoagulants",
    "T45.52": "Long-term antithrombotics",
    "T39.01": "Long-term aspirin",
    "T40.2": "Long-term opiate analgesic", "T40.4": "Long-term opiate analgesic",
    "T40.3": "Long-term opiate analgesic", "T40.6": "Long-term opiate analgesic",
    "T40.0": "Long-term opiate analgesic", "T40.41": "Long-term opiate analgesic",
    "T39.3": "Long-term non-steroidal anti-inflammatories",
    "T38.0": "Long-term steroids systemic",
}
Z79_AGENTS = {
    "apixaban": "Long-term anticoagulants", "rivaroxaban": "Long-term anticoagulants",
    "dabigatran": "Long-term anticoagulants", "edoxaban": "Long-term anticoagulants",
    "warfarin": "Long-term anticoagulants", "coumadin": "Long-term anticoagulants",
    "eliquis": "Long-term anticoagulants", "xarelto": "Long-term anticoagulants",
    "clopidogrel": "Long-term antiplatelet", "plavix": "Long-term antiplatelet", "prasugrel": "Long-term antiplatelet",
    "ticagrelor": "Long-term antiplatelet",
    "semaglutide": "Long-term antidiabetic drugs injectable non-insulin",
    "liraglutide": "Long-term antidiabetic drugs injectable non-insulin",
    "dulaglutide": "Long-term antidiabetic drugs injectable non-insulin",
    "tirzepatide": "Long-term antidiabetic drugs injectable non-insulin",
    "exenatide": "Long-term antidiabetic drugs injectable non-insulin",
    "metformin": "Long-term oral hypoglycemic", "glipizide": "Long-term oral hypoglycemic",
    "glimepiride": "Long-term oral hypoglycemic", "glyburide": "Long-term oral hypoglycemic",
    "sitagliptin": "Long-term oral hypoglycemic", "linagliptin": "Long-term oral hypoglycemic",
    "empagliflozin": "Long-term oral hypoglycemic", "dapagliflozin": "Long-term oral hypoglycemic",
    "canagliflozin": "Long-term oral hypoglycemic", "pioglitazone": "Long-term oral hypoglycemic",
    "oral hypoglycemic": "Long-term oral hypoglycemic", "oral hypoglycemics": "Long-term oral hypoglycemic",
    "oral antidiabetic": "Long-term oral antidiabetic",
    "insulin": "Long-term insulin",
    "aspirin": "Long-term aspirin", "asa": "Long-term aspirin",
}
LONG_TERM_CUES = ["on", "maintained on", "long-term", "long term", "chronic", "takes", "taking", "uses", "using",
                  "continues", "continue", "daily", "requires", "dependent on", "managed with", "controlled with",
                  "discharged on", "remains on", "home"]
UNDERDOSING_CUES = ["going without", "went without", "been without", "ran out of", "run out of", "stopped taking",
                    "not taking", "missed doses of", "missed", "skipped", "skipping", "unable to afford",
                    "could not afford", "couldn't afford", "cannot afford", "can't afford", "rationing",
                    "self-discontinued", "discontinued her", "discontinued his", "noncompliant with",
                    "non-compliant with", "nonadherent", "not adherent", "underdosing", "underdosed",
                    "taking less", "took less", "reduced her", "reduced his", "without her", "without his"]
FINANCIAL_CUES = ["afford", "cost", "financial", "insurance", "money", "expensive"]
DELIVERY_CUES = ["delivery", "delivered", "vaginal delivery", "cesarean", "c-section", "gave birth", "svd", "nsvd",
                 "labor and delivery", "postpartum day", "intrapartum"]
NEWBORN_CUES = ["newborn", "neonate", "infant born", "born at", "born vaginally", "born via", "born by",
                "term male infant", "term female infant", "baby boy", "baby girl"]
MOTHER_CUES = ["delivery of", "delivered a", "gave birth", "g1p", "g2p", "g3p", "g4p", "gravida", "postpartum",
               "gestational", "labor", "her baby", "mother's record"]
PREGNANCY_CUES = ["pregnant", "pregnancy", "gestation", "gravida", "weeks pregnant", "intrauterine pregnancy",
                  "prenatal", "antepartum", "g1p0", "trimester"]
