//! Full-text search over thread titles and message text: the words of what an operator types,
//! turned into a query for the database's own index (SQLite FTS5, Postgres `tsquery`).
//!
//! The typed text is never handed to the database's query syntax as it is: it is cut into
//! runs of letters and digits, and only those words reach the query, each quoted (FTS5) or
//! plain (tsquery, where a word of letters and digits has no syntax), and the result is bound
//! as a parameter. Quotes, `*`, `-`, `NEAR(`, `:`, `&` and the like are separators, so nothing
//! typed can break or widen a query. A thread matches when its title or one of its messages
//! has every word; the last word also matches as a prefix, so results come while a word is
//! still being typed (on SQLite, a search whose words are very common matches the last word
//! whole: see [`Plan::Probe`]).

use diesel::sql_types::{Bool, Text};
use diesel::{BoxableExpression, RunQueryDsl};

use super::StoreError;
use super::db::{AnyConnection, Backend, MultiBackend};

/// Words kept from one query; a longer query only narrows further, so the rest is dropped.
const MAX_WORDS: usize = 12;
/// Characters kept from one word (index terms are no longer in practice).
const MAX_WORD_CHARS: usize = 64;

/// The accents of Latin letters, folded as both indexes fold them (SQLite's unicode61
/// `remove_diacritics`, and the same table in the Postgres migration).
const FOLD_FROM: &str =
    "àáâãäåçèéêëìíîïðñòóôõöøùúûüýÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĵķĺļľŀłńņňōŏőŕŗřśŝşšţťŧũūŭůűųŵŷźżž";
const FOLD_TO: &str =
    "aaaaaaceeeeiiiidnoooooouuuuyyaaaccccddeeeeegggghhiiiiijklllllnnnooorrrsssstttuuuuuuwyzzz";

fn fold(c: char) -> char {
    FOLD_FROM
        .chars()
        .zip(FOLD_TO.chars())
        .find(|(from, _)| *from == c)
        .map_or(c, |(_, to)| to)
}

/// A search, ready for either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// The words of `text`, lower-cased and folded as the indexes fold them; `None` when it
    /// has none.
    pub fn parse(text: &str) -> Option<SearchQuery> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .map(|w| {
                let lower = w
                    .chars()
                    .take(MAX_WORD_CHARS)
                    .collect::<String>()
                    .to_lowercase();
                lower.chars().map(fold).collect()
            })
            .collect();
        (!words.is_empty()).then_some(SearchQuery { words })
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// An FTS5 query: every word as a quoted string (no operator survives inside quotes),
    /// the last one a prefix.
    pub fn fts5(&self) -> String {
        let mut out = self.fts5_whole();
        out.push('*');
        out
    }

    /// The same with every word matched whole.
    pub fn fts5_whole(&self) -> String {
        let quoted: Vec<String> = self
            .words
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        quoted.join(" ")
    }

    /// A Postgres `tsquery` for `to_tsquery('simple', ...)`: the words joined by `&`, the last
    /// one a prefix. Words are letters and digits only, which the tsquery parser takes as
    /// plain lexemes.
    pub fn tsquery(&self) -> String {
        let mut out = self.words.join(" & ");
        out.push_str(":*");
        out
    }

    /// The query text the backend's index takes for `plan`, to bind as a parameter.
    pub fn for_backend(&self, backend: Backend, plan: &Plan) -> String {
        match (backend, plan) {
            (Backend::Sqlite, Plan::Probe) => self.fts5_whole(),
            (Backend::Sqlite, _) => self.fts5(),
            (Backend::Postgres, _) => self.tsquery(),
        }
    }
}

/// Ways to find the matching threads; which is cheapest depends on how many documents match
/// (see `console_threads`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Few hits (SQLite): collect the threads of all hits, then fetch and order those.
    Collect,
    /// Some hits (SQLite): collect the set of matching threads, then walk threads in list order
    /// and keep those in the set, which stops once a page is full. Fetching and sorting every
    /// matching thread costs a lookup per thread; past a few hundred, reading the list's index
    /// until a page is found costs less.
    Scan,
    /// Many hits: walk threads in list order and ask each whether it matches, which stops
    /// once a page is full. SQLite answers a prefix only by reading every posting of every
    /// word it starts, however narrow the range asked, so there the last word is matched whole.
    Probe,
    /// Fewer than [`COMMON_HITS`] hits on Postgres: the matching threads, found while counting
    /// the hits (ids separated by spaces). Reading a matching message's row is what a search
    /// costs there, so it is done once; the page then walks the list's index, testing each
    /// thread against this set, or fetches the few, as the planner sees fit.
    Found(String),
}

/// The filter on `threads` rows for `plan`, with one bind: the backend's query text, or the
/// threads found. On SQLite a thread's documents are the rowid range from `key * 2^24` to
/// `key * 2^24 + 2^24 - 1` of `search_fts` (see the migration), so probing is one
/// range-limited lookup. Postgres has no counted plans: [`choose_plan`] finds the threads of
/// few hits itself, and asked for one anyway it probes, which is right (if slower) for any
/// number of hits; SQLite never finds threads beforehand, and given them it collects.
pub fn thread_filter<QS: 'static>(
    backend: Backend,
    plan: &Plan,
    query: &SearchQuery,
) -> Box<dyn BoxableExpression<QS, MultiBackend, SqlType = Bool>> {
    if let (Backend::Postgres, Plan::Found(ids)) = (backend, plan) {
        // Bound as one string, an array literal the planner sees whole (and hashes).
        return Box::new(
            diesel::dsl::sql::<Bool>("threads.id = ANY(string_to_array(")
                .bind::<Text, _>(ids.clone())
                .sql(", ' '))"),
        );
    }
    let (sql, tail) = match (backend, plan) {
        (Backend::Sqlite, Plan::Collect | Plan::Found(_)) => (
            "threads.id IN (SELECT s.thread_id FROM search_threads s WHERE s.key IN \
             (SELECT search_fts.rowid / 16777216 FROM search_fts WHERE search_fts MATCH ",
            "))",
        ),
        // The same set, but `+` keeps SQLite from looking threads up by id from it: it walks
        // an index in list order instead and tests each thread's id against the set.
        (Backend::Sqlite, Plan::Scan) => (
            "+threads.id IN (SELECT s.thread_id FROM search_threads s WHERE s.key IN \
             (SELECT search_fts.rowid / 16777216 FROM search_fts WHERE search_fts MATCH ",
            "))",
        ),
        // CROSS JOIN keeps the thread's key the outer loop, so FTS5 is given the rowid range.
        (Backend::Sqlite, Plan::Probe) => (
            "EXISTS (SELECT 1 FROM search_threads s CROSS JOIN search_fts \
             WHERE s.thread_id = threads.id \
             AND search_fts.rowid BETWEEN s.key * 16777216 AND s.key * 16777216 + 16777215 \
             AND search_fts MATCH ",
            ")",
        ),
        // `OFFSET 0` keeps the inner EXISTS a per-thread check: without it Postgres may turn it
        // into a hashed set of every matching item's thread, built by reading all of `items`
        // (it weighs that against one check per thread of the whole table, not of a page).
        (Backend::Postgres, _) => (
            "EXISTS (SELECT 1 FROM (SELECT to_tsquery('simple', ",
            ") AS tsq) w WHERE console_search_vector(threads.title) @@ w.tsq OR EXISTS \
             (SELECT 1 FROM items i WHERE i.thread_id = threads.id AND i.search @@ w.tsq \
             OFFSET 0))",
        ),
    };
    Box::new(
        diesel::dsl::sql::<Bool>(sql)
            .bind::<Text, _>(query.for_backend(backend, plan))
            .sql(tail),
    )
}

/// Hits below which fetching every hit's thread and sorting them is cheapest ([`Plan::Collect`]).
pub const FEW_HITS: i64 = 300;
/// Hits counted before deciding that a query is common: below it, collecting the set of
/// matching threads is cheap; above it, a page of matching threads is found by probing few of
/// them.
pub const COMMON_HITS: i64 = 4000;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Hit {
    #[diesel(sql_type = Text)]
    thread_id: String,
}

/// Which plan suits `query`, by its hits (titles and messages) counted up to [`COMMON_HITS`].
/// SQLite counts with every word whole, which costs little however common the words are.
/// Postgres reads the hits' threads as it counts them, and keeps them when they are few.
pub fn choose_plan(conn: &mut AnyConnection, query: &SearchQuery) -> Result<Plan, StoreError> {
    if let AnyConnection::Postgresql(_) = conn {
        let hits = diesel::sql_query(format!(
            "SELECT h.thread_id FROM (SELECT i.thread_id FROM items i \
             WHERE i.search @@ to_tsquery('simple', $1) \
             UNION ALL SELECT t.id FROM threads t \
             WHERE console_search_vector(t.title) @@ to_tsquery('simple', $1)) h \
             LIMIT {COMMON_HITS}"
        ))
        .bind::<Text, _>(query.tsquery())
        .load::<Hit>(conn)?;
        if hits.len() as i64 >= COMMON_HITS {
            return Ok(Plan::Probe);
        }
        let mut ids: Vec<String> = hits.into_iter().map(|h| h.thread_id).collect();
        ids.sort_unstable();
        ids.dedup();
        return Ok(Plan::Found(ids.join(" ")));
    }
    let hits = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH ? \
         LIMIT {COMMON_HITS}) h"
    ))
    .bind::<Text, _>(query.for_backend(Backend::Sqlite, &Plan::Probe))
    .get_result::<Count>(conn)?
    .n;
    Ok(if hits >= COMMON_HITS {
        Plan::Probe
    } else if hits >= FEW_HITS {
        Plan::Scan
    } else {
        Plan::Collect
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letter_and_digit_runs() {
        let q = SearchQuery::parse("  Refund, order #A-1234!  ").unwrap();
        assert_eq!(q.words(), ["refund", "order", "a", "1234"]);
        assert_eq!(q.fts5(), r#""refund" "order" "a" "1234"*"#);
        assert_eq!(q.fts5_whole(), r#""refund" "order" "a" "1234""#);
        assert_eq!(q.tsquery(), "refund & order & a & 1234:*");
    }

    #[test]
    fn query_syntax_is_only_separators() {
        let q = SearchQuery::parse(r#""foo* NEAR( bar:* & !baz | -qux'"#).unwrap();
        assert_eq!(q.words(), ["foo", "near", "bar", "baz", "qux"]);
        assert_eq!(q.fts5(), r#""foo" "near" "bar" "baz" "qux"*"#);
        assert_eq!(q.tsquery(), "foo & near & bar & baz & qux:*");
        assert_eq!(SearchQuery::parse(r#"" * - ( ) : & |"#), None);
        assert_eq!(SearchQuery::parse(""), None);
    }

    #[test]
    fn unicode_words_are_kept_and_lowered() {
        let q = SearchQuery::parse("Straße ÉTÉ 東京 Łódź").unwrap();
        assert_eq!(q.words(), ["straße", "ete", "東京", "lodz"]);
    }

    #[test]
    fn long_queries_are_bounded() {
        let text = format!("{} {}", "w ".repeat(40), "x".repeat(500));
        let q = SearchQuery::parse(&text).unwrap();
        assert_eq!(q.words().len(), MAX_WORDS);
        let q = SearchQuery::parse(&"y".repeat(500)).unwrap();
        assert_eq!(q.words()[0].chars().count(), MAX_WORD_CHARS);
    }
}
