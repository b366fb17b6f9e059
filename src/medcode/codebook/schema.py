"""The codebook file's tables. One place, so every importer writes the same shape."""

SCHEMA_VERSION = "2"

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
"""

INDEXES = """
CREATE INDEX codes_parent ON codes(system, parent);
CREATE INDEX notes_code ON notes(system, code);
CREATE INDEX index_terms_code ON index_terms(code);
CREATE INDEX index_terms_parent ON index_terms(parent_id);
CREATE INDEX crosswalks_source ON crosswalks(direction, source);
CREATE INDEX crosswalks_target ON crosswalks(direction, target);
"""
