"""The database's own full-text index over the document tables, in SQL per database.

SQLite: an FTS5 table with external content per document table (the words are indexed, the
text is read from the document row), tokenised by ``unicode61`` without diacritics, kept by
triggers. ``detail=column``: the index records in which columns of a row a word is, not where
in them; half the size of the full detail, and read twice as fast. Queries are single words
(``query.fts5_match``), never phrases, which this detail cannot answer.

PostgreSQL: a ``tsvector`` column filled by a trigger with the document's language (French or
English stemming, accents removed by ``unaccent``; identifiers and names unstemmed), under a
GIN index. Three kinds of lexeme share the vector, told apart by their first character, which
no word of a query can produce (the parser never keeps ``!`` or ``#`` in a word):

- the words everyone who sees the record may read, weighted for ranking: A (reference, title),
  B (public text, people);
- the words of the staff notes, each written ``!word``: a search that may read notes asks for
  ``word | !word``, one that may not asks for ``word``;
- the visibility tokens of ``scope`` (``#d3``, ``#r12``…) and, on tickets, the age tokens
  (``#a0_199``: the ticket's id divided by ``AGES[0]``), with which a search asks for the newest
  matches first (``backends.PostgresBackend``).

So no query restricts weights, which a GIN index cannot check: each would make PostgreSQL read
every candidate's vector again from its TOAST table.

The migrations and ``comptoir search rebuild`` both call ``install``: it is safe to run again.
"""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS = ("ref", "title", "body", "notes", "people", "scope")
#: The columns holding words people search; ``scope`` holds visibility tokens (models.py).
TEXT_COLUMNS = COLUMNS[:5]


@dataclass(frozen=True)
class Index:
    table: str  # the document table
    key: str  # its primary key column, which is the FTS5 rowid
    #: Holds a row per ticket: too many for BM25 on SQLite (``backends.SqliteBackend``).
    large: bool = False

    @property
    def fts(self) -> str:
        return f"{self.table}_fts"


TICKETS = Index("search_ticketdocument", "ticket_id", large=True)
ARTICLES = Index("search_articledocument", "variant_id")
PEOPLE = Index("search_persondocument", "user_id")
INDEXES = (TICKETS, ARTICLES, PEOPLE)


def _sqlite_triggers(index: Index) -> list[str]:
    cols = ", ".join(COLUMNS)
    new = ", ".join(f"new.{c}" for c in COLUMNS)
    old = ", ".join(f"old.{c}" for c in COLUMNS)
    fts, table, key = index.fts, index.table, index.key
    return [
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.{key}, {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.{key}, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.{key}, {old}); "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.{key}, {new}); END",
    ]


def sqlite_install(index: Index) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {index.fts} USING fts5("
        f"{', '.join(COLUMNS)}, content='{index.table}', content_rowid='{index.key}', "
        "tokenize='unicode61 remove_diacritics 2', detail=column)",
        *_sqlite_triggers(index),
    ]


def sqlite_drop_triggers(index: Index) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {index.fts}_{suffix}" for suffix in ("ai", "ad", "au")]


def sqlite_uninstall(index: Index) -> list[str]:
    return [*sqlite_drop_triggers(index), f"DROP TABLE IF EXISTS {index.fts}"]


#: Sizes of the ticket age buckets, smallest first: a ticket document carries one age token per
#: size, ``#a{level}_{id // size}``. A search asks for its matches among the newest tickets
#: (the current bucket of a size and the one before), the smallest window first
#: (``backends.PostgresBackend._newest``).
AGES = (5_000, 20_000, 80_000, 320_000)


def age_token(level: int, bucket: int | str) -> str:
    return f"#a{level}_{bucket}"


#: Our text search configurations: the language's stemmer after ``unaccent``, and a plain one
#: for identifiers and names. Each document is indexed with the one of its language.
PG_CONFIGS = {"comptoir_en": "english", "comptoir_fr": "french", "comptoir_simple": "simple"}

PG_CONFIGS_SQL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    *(
        f"DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{name}') THEN "
        f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base}); "
        f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR hword, hword_part, word "
        f"WITH unaccent, {'simple' if base == 'simple' else base + '_stem'}; "
        f"END IF; END $$"
        for name, base in PG_CONFIGS.items()
    ),
]

#: Every word the PostgreSQL indexes hold (their lexemes, notes' and tokens' marks aside), kept
#: by the trigger: a prefix is looked for as the words it starts (``backends.PostgresBackend``),
#: which the GIN index intersects like any word. Asked for the prefix itself (``'webca':*``),
#: it would read whole the list of every word the prefix starts, "webcam" in most tickets
#: included, however few matches are kept. A word no document holds any more stays: looked for,
#: it finds nothing. ``COLLATE "C"``: a prefix is a range of the primary key.
LEXICON = "search_lexeme"


def _lexicon_words(vector: str) -> str:
    """The words a vector gives the lexicon, as SQL: its lexemes, notes' mark taken off and
    tokens (``#…``) left out; the trigger and the upgrade's fill both read them so."""
    return (
        f"SELECT ltrim(w, '!') AS word FROM unnest(tsvector_to_array({vector})) w WHERE w !~ '^#'"
    )


#: A text's words as the query reader sees them (``query.read``: letters and digits), so that
#: an address, a host name, a file name or a version is indexed as the words a search for it
#: is read as; PostgreSQL's parser would keep each whole ("srv01.acme.local").
_PG_WORDS = """
    CREATE OR REPLACE FUNCTION search_words(t text) RETURNS text AS $$
        SELECT regexp_replace(coalesce(t, ''), '[[:punct:]]+', ' ', 'g')
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE
    """

_PG_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION search_document_vector() RETURNS trigger AS $$
    DECLARE
        cfg regconfig := CASE NEW.language
            WHEN 'fr' THEN 'comptoir_fr'::regconfig
            WHEN 'en' THEN 'comptoir_en'::regconfig
            ELSE 'comptoir_simple'::regconfig END;
        tokens text[] := ARRAY(
            SELECT '#' || t FROM regexp_split_to_table(coalesce(NEW.scope, ''), '[[:space:]]+') t
            WHERE t <> '');
    BEGIN
        IF TG_TABLE_NAME = '{TICKETS.table}' THEN
            tokens := tokens || ARRAY[AGE_TOKENS];
        END IF;
        NEW.vector :=
            setweight(to_tsvector('comptoir_simple', search_words(NEW.ref)), 'A')
            || setweight(to_tsvector(cfg, search_words(NEW.title)), 'A')
            || setweight(to_tsvector(cfg, search_words(NEW.body)), 'B')
            || setweight(to_tsvector('comptoir_simple', search_words(NEW.people)), 'B')
            || (SELECT array_to_tsvector(coalesce(array_agg('!' || lexeme), '{{}}'))
                FROM unnest(to_tsvector(cfg, search_words(NEW.notes))))
            || array_to_tsvector(tokens);
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """

#: The lexicon's new words, once per statement (``written``: the rows it wrote, vectors
#: computed). Words it knows are skipped before the insert (half the cost of letting the
#: insert find them); the new ones of the whole statement go in one order. Two writers adding
#: the same new words then wait for each other, never in a ring: added row by row, a
#: statement writing many documents (a rebuild's batch) took its words in the order of its
#: rows, and two such statements running at once deadlocked.
_PG_LEXICON_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION search_lexicon_add() RETURNS trigger AS $$
    BEGIN
        INSERT INTO {LEXICON} (word)
            SELECT x.word FROM (
                SELECT DISTINCT w.word FROM written d, LATERAL ({_lexicon_words("d.vector")}) w
            ) x
            WHERE (SELECT true FROM {LEXICON} l WHERE l.word = x.word) IS NULL
            ORDER BY 1
            ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    -- The lookup above is planned once per connection and kept. Planned on a lexicon that
    -- was small then (a new install, a rebuild's first batch; the statistics not yet
    -- gathered), a join would read the whole lexicon for each word ever after (a scan, or
    -- the whole index kept in memory and compared word by word), a cost that grows with
    -- every word added: a rebuild fell to 100 tickets/s. A subquery per word, one probe of
    -- the primary key, whatever the statistics say; and no compiling of the statement.
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off
    """


def pg_setup() -> list[str]:
    """The extension, the configurations, the lexicon and the trigger function (with ``AGES``
    as it is)."""
    age_tokens = ", ".join(
        f"'{age_token(level, '')}' || (NEW.ticket_id / {size})" for level, size in enumerate(AGES)
    )
    return [
        *PG_CONFIGS_SQL,
        f'CREATE TABLE IF NOT EXISTS {LEXICON} (word text COLLATE "C" PRIMARY KEY)',
        _PG_WORDS,
        _PG_FUNCTION.replace("AGE_TOKENS", age_tokens),
        _PG_LEXICON_FUNCTION,
    ]


def pg_fill_lexicon(index: Index) -> str:
    """The words of ``index``'s vectors into the lexicon (an upgrade; the trigger keeps it)."""
    return (
        f"INSERT INTO {LEXICON} (word) SELECT DISTINCT x.word "  # noqa: S608
        f"FROM {index.table} d, LATERAL ({_lexicon_words('d.vector')}) x "
        "ON CONFLICT DO NOTHING"
    )


#: The most a GIN index's pending list may hold, in kB. A write adds its document's words to
#: this list, and the next write past the limit moves them into the index; meanwhile every
#: search reads the whole list. PostgreSQL's default, 4 MB (about a thousand ticket
#: documents), cost each search 1.5 ms per match query, four of them per search; 256 kB costs
#: each write about 0.3 ms more (docs/performance.md).
PENDING_KB = 256


def pg_install(index: Index) -> list[str]:
    table = index.table
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS vector tsvector",
        f"CREATE INDEX IF NOT EXISTS {table}_vector ON {table} USING gin (vector) "
        f"WITH (gin_pending_list_limit = {PENDING_KB})",
        f"ALTER INDEX {table}_vector SET (gin_pending_list_limit = {PENDING_KB})",
        f"DROP TRIGGER IF EXISTS {table}_vector ON {table}",
        f"CREATE TRIGGER {table}_vector BEFORE INSERT OR UPDATE OF language, "
        f"{', '.join(COLUMNS)} ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION search_document_vector()",
        # A trigger with the rows a statement wrote takes one event, and no column list.
        *(
            statement
            for event in ("insert", "update")
            for statement in (
                f"DROP TRIGGER IF EXISTS {table}_words_{event} ON {table}",
                f"CREATE TRIGGER {table}_words_{event} AFTER {event.upper()} ON {table} "
                "REFERENCING NEW TABLE AS written "
                "FOR EACH STATEMENT EXECUTE FUNCTION search_lexicon_add()",
            )
        ),
    ]


def pg_triggers(index: Index) -> list[str]:
    """The names of the triggers ``pg_install`` gives ``index``'s table."""
    return [f"{index.table}_vector", f"{index.table}_words_insert", f"{index.table}_words_update"]


def pg_uninstall(index: Index) -> list[str]:
    table = index.table
    return [
        *(f"DROP TRIGGER IF EXISTS {name} ON {table}" for name in pg_triggers(index)),
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS vector",
    ]


def refresh(connection, *, vendors: tuple[str, ...] = ("sqlite", "postgresql")) -> None:
    """Index every document again in the layout ``install`` makes (an upgrade that changes it):
    the FTS5 tables made again from their documents, the vectors computed again; on the
    databases of ``vendors`` only (an upgrade that changes one engine's layout)."""
    if connection.vendor not in vendors:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for index in INDEXES:
                for statement in [*sqlite_uninstall(index), *sqlite_install(index)]:
                    cursor.execute(statement)
                cursor.execute(f"INSERT INTO {index.fts}({index.fts}) VALUES ('rebuild')")
            return
        for statement in pg_setup():
            cursor.execute(statement)
        for index in INDEXES:
            cursor.execute(f"UPDATE {index.table} SET language = language")  # noqa: S608


def settle(connection, index: Index) -> None:
    """Put the index in order after many writes at once (a rebuild).

    PostgreSQL: move the words waiting in the GIN index's pending list into the index, so that
    searches do not read them one by one; then the table's statistics, which the search's
    choice of an age window reads (``backends.PostgresBackend._newest``): taken before the
    rebuild, or never, they know no word of the vectors, the planner takes every word for a
    rare one, and a search for a common word ranks all its matches instead of the newest (at
    a million tickets, 350 ms where the window takes a few). Autovacuum would take them, later,
    and not where it is turned off. SQLite: merge FTS5's segments into one (``optimize``).
    A rebuild leaves hundreds of them, and FTS5 merges them a little at each later write: at
    a million tickets every new document cost 300–600 ms of merging, holding the write lock.
    Then the statistics of FTS5's tables, if the database keeps statistics.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [f"{index.table}_vector"])
            cursor.execute(f"ANALYZE {index.table}")
        elif connection.vendor == "sqlite":
            cursor.execute(f"INSERT INTO {index.fts}({index.fts}) VALUES ('optimize')")
            _sqlite_count_shadow_tables(cursor, index)


#: The tables FTS5 keeps an index in.
FTS5_SHADOWS = ("data", "idx", "docsize", "config")


def _sqlite_count_shadow_tables(cursor, index: Index) -> None:
    """Statistics of FTS5's own tables made true again, where the database has any.

    ``ANALYZE`` run while the index was small (a new install, before a rebuild) told SQLite's
    planner that its data table held two rows. FTS5 deletes a merged segment's rows by a range
    of keys, and the planner then chose to read the whole table instead: every merge, each
    sixteenth write or so, read the index once per segment merged (0.7–2.2 s at a million
    tickets, holding the write lock). A database never analysed has no statistics to correct,
    and its planner reads the range.
    """
    cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    if cursor.fetchone() is not None:
        for shadow in FTS5_SHADOWS:
            cursor.execute(f"ANALYZE {index.fts}_{shadow}")


def install(connection) -> None:
    """Create what the database needs to index the document tables (again, if it exists)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in pg_setup():
                cursor.execute(statement)
            for index in INDEXES:
                for statement in pg_install(index):
                    cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for index in INDEXES:
                for statement in sqlite_install(index):
                    cursor.execute(statement)
        else:  # pragma: no cover - the settings allow only these two
            raise RuntimeError(f"No full-text search for {connection.vendor}.")


def ensure(connection) -> None:
    """``install`` unless everything is already in place (a rebuild checks this first)."""
    if connection.vendor == "postgresql":
        names = [name for index in INDEXES for name in pg_triggers(index)]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = ANY(%s) AND NOT tgisinternal",
                [names],
            )
            if cursor.fetchone()[0] == len(names):
                return
    install(connection)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        for index in INDEXES:
            statements = (
                pg_uninstall(index)
                if connection.vendor == "postgresql"
                else sqlite_uninstall(index)
            )
            for statement in statements:
                cursor.execute(statement)
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TABLE IF EXISTS {LEXICON}")
