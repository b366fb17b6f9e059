"""The codebook file's tables. One place, so every importer writes the same shape."""

SCHEMA_VERSION = "3"  # 2: the search index tables (medcode.search.index); 3: reference_sections, reference_fts
# Books of these versions still open: each version only added tables, and a reader of a newer table
# (book.reference_*) answers "nothing held" when the book predates it.
READABLE_VERSIONS = frozenset({"2", "3"})

DDL = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE releases(
  id INTEGER PRIMARY KEY,
  system TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,               -- the importer that read it
  effective_from TEXT NOT NULL,     -- ISO dates
  effective_to TEXT,                -- NULL: in effect until a later release replaces it
  source TEXT NOT NULL,             -- file name (and archive member)
  sha256 TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  counts TEXT NOT NULL DEFAULT '{}' -- JSON: what the import found
);

-- Every code, header and chapter, one row per version (a title change or a deletion ends a version).
CREATE TABLE codes(
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT,
  title TEXT NOT NULL,
  kind TEXT NOT NULL,
  parent TEXT,
  billable INTEGER NOT NULL,
  seq INTEGER NOT NULL,             -- order in the official tabular
  release_id INTEGER NOT NULL,
  PRIMARY KEY(system, code, valid_from)
) WITHOUT ROWID;

-- Instructional notes where they are printed; inheritance is computed from the hierarchy.
CREATE TABLE notes(
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL
);

-- sevenChrDef at the level it is defined (category or subcategory).
CREATE TABLE seventh_chars(
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  char TEXT NOT NULL,
  meaning TEXT NOT NULL,
  PRIMARY KEY(system, code, char)
) WITHOUT ROWID;

-- Alphabetic Index, External Cause Index, Drug and Neoplasm tables, PCS index: one row per term.
-- A Drug/Neoplasm table cell, or a bracketed manifestation code beside an Index code, is one more
-- row with parent_id = its term's row, the same level, term and path, and column_name set.
CREATE TABLE index_terms(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,             -- index, eindex, drug, neoplasm, pcs_index
  system TEXT NOT NULL,
  release_id INTEGER NOT NULL,
  parent_id INTEGER,
  level INTEGER NOT NULL,           -- 0 for a main term
  term TEXT NOT NULL,               -- this level's words, without nonessential modifiers
                                    -- ('' for the few subterms that are only a modifier)
  path TEXT NOT NULL,               -- "Diabetes, diabetic, type 2, with, polyneuropathy": the terms
                                    -- from the main term down, joined by ", "
  code TEXT,                        -- normalised; an incomplete code ends in '-': "H93.29-",
                                    -- "M86.8X-", and "C64.-" for a category (C64- in a file)
  see TEXT,                         -- ICD-10-CM "see subcategory T75.0" is see='subcategory T75.0', code='T75.0-'
  see_also TEXT,
  nonessential TEXT,                -- "(mellitus) (sugar)"
  column_name TEXT                  -- Drug/Neoplasm column heading; 'manifestation' for an Index [code]
);

-- PCS tables: the 3-character table header and each row's axes 4-7, for the grid.
CREATE TABLE pcs_tables(
  code TEXT PRIMARY KEY,            -- "0RR"
  section TEXT NOT NULL, body_system TEXT NOT NULL, operation TEXT NOT NULL,
  definition TEXT,
  release_id INTEGER NOT NULL
);
CREATE TABLE pcs_rows(
  table_code TEXT NOT NULL,
  row_no INTEGER NOT NULL,
  axes TEXT NOT NULL,               -- JSON: [{"pos":4,"title":"Body Part","values":[["J","Shoulder Joint, Right"],...]},...]
  PRIMARY KEY(table_code, row_no)
) WITHOUT ROWID;
-- PCS definitions file: per section and axis, each value's definition and includes.
CREATE TABLE pcs_definitions(
  section TEXT NOT NULL,
  axis_pos INTEGER NOT NULL,
  axis_title TEXT NOT NULL,
  value TEXT NOT NULL,              -- the character code when the file gives one, else the term
  label TEXT NOT NULL,
  definition TEXT,
  explanation TEXT,
  includes TEXT,                    -- JSON list
  release_id INTEGER NOT NULL
);

-- GEMs, both directions, with their flags.
CREATE TABLE crosswalks(
  direction TEXT NOT NULL,          -- icd10cm->icd9cm | icd9cm->icd10cm
  source TEXT NOT NULL,
  target TEXT,
  approximate INTEGER NOT NULL, no_map INTEGER NOT NULL, combination INTEGER NOT NULL,
  scenario INTEGER NOT NULL, choice_list INTEGER NOT NULL,
  release_id INTEGER NOT NULL
);
CREATE TABLE icd9_codes(code TEXT PRIMARY KEY, title TEXT NOT NULL) WITHOUT ROWID;

-- Guideline and policy texts, addressable by section (I.C.4.a.3, IV.H).
CREATE TABLE guideline_sections(
  source TEXT NOT NULL,             -- icd10cm-guidelines, ncci-policy, ...
  ref TEXT NOT NULL,
  title TEXT NOT NULL,
  parent_ref TEXT,
  seq INTEGER NOT NULL,
  page INTEGER,
  text TEXT NOT NULL,
  release_id INTEGER NOT NULL,
  PRIMARY KEY(source, ref)
) WITHOUT ROWID;

-- Policy and reference texts besides the ICD-10-CM guidelines (issue 6; sources ncci_policy, cms_manual,
-- icd10pcs_guidelines): the NCCI Policy Manual (refs "I", "I.E"), CMS manual chapters (one source per
-- chapter, e.g. cms-claims-processing-ch12, refs "30.6.6"), the ICD-10-PCS guidelines (refs "B3.1a").
-- The newest edition of each source is kept. Paragraphs are separated by blank lines in `text`.
CREATE TABLE reference_sections(
  source TEXT NOT NULL,
  ref TEXT NOT NULL,
  title TEXT NOT NULL,
  parent_ref TEXT,
  seq INTEGER NOT NULL,
  page TEXT,                        -- printed page label ("I-14") when the text has them
  text TEXT NOT NULL,
  release_id INTEGER NOT NULL,
  PRIMARY KEY(source, ref)
) WITHOUT ROWID;
-- reference_fts (FTS5, built at the end of the build by medcode.codebook.passages): the passages of
-- every guideline_sections and reference_sections row, for ranked (bm25) passage retrieval.

-- ===== NCCI edits and the PFS RVU / GPCI files (issue 5; sources ncci_ptp, ncci_mue, ncci_aoc,
-- pfs_rvu, pfs_gpci). Each official file is one release; its setting is in releases.system
-- ('ncci-practitioner', 'ncci-hospital', 'ncci-dme', 'ncci' for add-on edits, 'pfs', 'pfs-qpp'),
-- so a quarter's file follows the previous quarter's file of the same setting. A CMS release that
-- comes in parts (PTP f1-f4) is several releases with the same effective_from: one set.
-- Dates in these tables are INTEGER YYYYMMDD (compact: 2.5 million PTP rows per quarter).
-- CPT codes appear here by number only: no CPT descriptor is ever stored (pfs_rvu.description is
-- NULL for CPT and CDT rows even when the file carries text).
CREATE TABLE ptp_rationales(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE ptp_edits(
  release_id INTEGER NOT NULL,      -- the file (part): setting and quarter
  column1 TEXT NOT NULL,
  column2 TEXT NOT NULL,
  effective INTEGER NOT NULL,       -- YYYYMMDD
  deletion INTEGER,                 -- YYYYMMDD, the last day the edit applies; NULL: not deleted ("*")
  modifier INTEGER NOT NULL,        -- 0 not allowed, 1 allowed, 9 not applicable
  prior_1996 INTEGER NOT NULL,      -- the "* = in existence prior to 1996" flag
  rationale_id INTEGER NOT NULL,    -- ptp_rationales.id
  PRIMARY KEY(release_id, column1, column2, effective)
) WITHOUT ROWID;
CREATE TABLE mue_edits(
  release_id INTEGER NOT NULL,      -- the file: setting (practitioner, hospital, dme) and quarter
  code TEXT NOT NULL,
  mue INTEGER NOT NULL,             -- units of service per line (MAI 1) or per day (MAI 2, 3)
  mai INTEGER NOT NULL,             -- 1 line edit, 2 date of service: policy, 3 date of service: clinical
  rationale TEXT NOT NULL,
  PRIMARY KEY(release_id, code)
) WITHOUT ROWID;
CREATE TABLE aoc_edits(
  release_id INTEGER NOT NULL,
  addon TEXT NOT NULL,
  primary_code TEXT NOT NULL,       -- 'CCCCC': primary codes defined by the contractor
  effective INTEGER NOT NULL,       -- YYYYMMDD (the file's YYYYDDD converted)
  deletion INTEGER,                 -- the last day the edit applies; NULL: not deleted
  aoc_type INTEGER NOT NULL,        -- 1, 2 or 3
  addon_deletion INTEGER,           -- AOC_DelDT: the add-on code's deletion date
  primary_deletion INTEGER,         -- Primary_Code_DelDT
  note TEXT,                        -- Special_Instruction_Notes
  PRIMARY KEY(release_id, addon, primary_code, effective)
) WITHOUT ROWID;
CREATE TABLE pfs_rvu(
  release_id INTEGER NOT NULL,
  code TEXT NOT NULL,
  modifier TEXT NOT NULL,           -- '' (global), 26, TC, 53
  description TEXT,                 -- HCPCS Level II only; NULL for CPT and CDT (AMA/ADA text)
  status TEXT NOT NULL,             -- Attachment A: A, B, C, ... X
  not_used_for_medicare INTEGER NOT NULL,  -- '+' after the status
  work REAL NOT NULL, pe_nonfacility REAL NOT NULL, pe_nonfacility_na INTEGER NOT NULL,
  pe_facility REAL NOT NULL, pe_facility_na INTEGER NOT NULL, mp REAL NOT NULL,
  total_nonfacility REAL NOT NULL, total_facility REAL NOT NULL,
  pctc TEXT NOT NULL, global_days TEXT NOT NULL,
  preop REAL NOT NULL, intraop REAL NOT NULL, postop REAL NOT NULL,
  multiple_procedure TEXT NOT NULL, bilateral TEXT NOT NULL, assistant TEXT NOT NULL,
  co_surgeons TEXT NOT NULL, team_surgery TEXT NOT NULL, pricing TEXT NOT NULL,
  endoscopic_base TEXT, conversion_factor REAL NOT NULL, supervision TEXT NOT NULL,
  calculation_flag TEXT NOT NULL, imaging_family TEXT NOT NULL,
  opps_pe_nonfacility REAL NOT NULL, opps_pe_facility REAL NOT NULL, opps_mp REAL NOT NULL,
  PRIMARY KEY(release_id, code, modifier)
) WITHOUT ROWID;
CREATE TABLE pfs_gpci(
  release_id INTEGER NOT NULL,
  mac TEXT NOT NULL,                -- Medicare Administrative Contractor number
  locality TEXT NOT NULL,           -- locality number within the MAC
  state TEXT NOT NULL,
  name TEXT NOT NULL,
  work REAL NOT NULL,               -- work GPCI as published (without the 1.0 floor when both are given)
  work_floor REAL,                  -- work GPCI with the 1.0 floor, when the file gives it
  floor_through INTEGER,            -- YYYYMMDD: the floor applies through this date (from the file's note)
  pe REAL NOT NULL,
  mp REAL NOT NULL,
  footnote TEXT,                    -- the '*' / '**' marks after the locality name
  PRIMARY KEY(release_id, mac, locality)
) WITHOUT ROWID;
-- ===== end of the NCCI / PFS block

-- ===== HCPCS Level II, modifiers, place of service, licensed CPT (issue 5; sources hcpcs_anweb,
-- hcpcs_attributes, hcpcs_list, hcpcs_noc, modifiers, pos, cpt_licensed). The codes themselves are
-- rows of `codes` (systems 'hcpcs', 'modifier', 'pos', 'cpt'); these tables hold what a code page
-- shows beside the title, one row per code and release that carries it.
-- HCPCS ANWEB record fields (system 'hcpcs' for procedure records, 'modifier' for modifier records).
-- Repeating fields are JSON lists in the file's order; dates are ISO; NULL: blank in the file, or a
-- field the release does not carry (the attributes file has no descriptions).
CREATE TABLE hcpcs_details(
  system TEXT NOT NULL,
  code TEXT NOT NULL,
  release_id INTEGER NOT NULL,
  long_description TEXT,            -- continuation records joined
  short_description TEXT,
  pricing TEXT NOT NULL DEFAULT '[]',     -- pricing indicator codes (up to 4), e.g. ["51"]
  multiple_pricing TEXT,            -- multiple pricing indicator
  cim TEXT NOT NULL DEFAULT '[]',   -- Coverage Issues Manual section numbers (up to 3)
  mcm TEXT NOT NULL DEFAULT '[]',   -- Medicare Carriers Manual section numbers (up to 3)
  statute TEXT,
  lab_cert TEXT NOT NULL DEFAULT '[]',    -- lab certification codes (up to 8)
  xref TEXT NOT NULL DEFAULT '[]',  -- cross-reference codes (up to 5)
  coverage TEXT,                    -- coverage code: C, D, I, M, S
  asc_group TEXT, asc_date TEXT,    -- ASC payment group and its effective date
  opps TEXT, opps_pi TEXT, opps_date TEXT,
  proc_note TEXT,                   -- processing note number
  betos TEXT,
  tos TEXT NOT NULL DEFAULT '[]',   -- type of service codes (up to 5)
  anesthesia_units INTEGER,         -- anesthesia base units
  added TEXT, action_date TEXT, termination TEXT,
  action_code TEXT,
  PRIMARY KEY(system, code, release_id)
) WITHOUT ROWID;
-- CMS list of not-otherwise-classified HCPCS codes.
CREATE TABLE hcpcs_noc(
  code TEXT NOT NULL, release_id INTEGER NOT NULL, title TEXT NOT NULL, added TEXT, terminated TEXT,
  PRIMARY KEY(code, release_id)
) WITHOUT ROWID;
-- Usage notes from a Level II modifier list that carries them (a third-party compilation).
CREATE TABLE modifier_guidance(
  code TEXT NOT NULL, release_id INTEGER NOT NULL,
  categories TEXT NOT NULL DEFAULT '[]',  -- JSON list
  information TEXT, instructions TEXT, correct_use TEXT, incorrect_use TEXT, resources TEXT,
  PRIMARY KEY(code, release_id)
) WITHOUT ROWID;
-- Place of service: facility / non-facility setting and the CMS description.
CREATE TABLE pos_details(
  code TEXT NOT NULL, release_id INTEGER NOT NULL, setting TEXT, description TEXT,
  PRIMARY KEY(code, release_id)
) WITHOUT ROWID;
-- CPT descriptors from a licensee's AMA data files, only when imported: the project ships no CPT text.
CREATE TABLE cpt_descriptors(
  code TEXT NOT NULL,               -- a CPT code, or a CPT modifier (kind 'modifier')
  kind TEXT NOT NULL,               -- long, medium, short, consumer, clinician, modifier
  seq INTEGER NOT NULL,             -- order within the file (several clinician descriptors per code)
  text TEXT NOT NULL,
  concept_id TEXT,
  descriptor_id TEXT,               -- clinician descriptor id
  release_id INTEGER NOT NULL
);
CREATE INDEX cpt_descriptors_code ON cpt_descriptors(code, kind);
-- ===== end of the HCPCS / modifier / POS / CPT block
"""

INDEXES = """
CREATE INDEX codes_parent ON codes(system, parent);
CREATE INDEX notes_code ON notes(system, code);
CREATE INDEX index_terms_code ON index_terms(code);
CREATE INDEX index_terms_parent ON index_terms(parent_id);
CREATE INDEX crosswalks_source ON crosswalks(direction, source);
CREATE INDEX crosswalks_target ON crosswalks(direction, target);
-- NCCI / PFS block (issue 5): column 1 lookups use ptp_edits' primary key
CREATE INDEX ptp_edits_column2 ON ptp_edits(release_id, column2);
CREATE INDEX aoc_edits_primary ON aoc_edits(release_id, primary_code);
"""
