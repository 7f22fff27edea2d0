//! BM25 statistics of one tenant's slice of the shared tantivy index. The index holds every
//! workspace, and tantivy's own statistics (document count, average field length, term
//! document frequencies) are index-wide, so one workspace's documents would move another's
//! scores and leak what it holds. A search scores with [`ScopedStats`] instead: every figure
//! counts only the live documents that match the scope terms (workspace and item type).
//!
//! Counting a scope walks its postings, which grows with the workspace; the index only changes
//! when a commit is picked up (a new searcher generation), so [`StatsCache`] keeps each
//! generation's figures and a query pays the walk once per commit, not once per search.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

/// A scope's document count and the token count of each scored field.
struct Totals {
    docs: u64,
    tokens: HashMap<Field, u64>,
}

/// (searcher generation, scope terms)
type ScopeKey = (u64, Vec<Term>);

/// The figures of recent searcher generations, per scope and per (scope, term).
pub(crate) struct StatsCache {
    totals: Cache<ScopeKey, Arc<Totals>>,
    freqs: Cache<(ScopeKey, Term), u64>,
}

impl StatsCache {
    pub(crate) fn new() -> Self {
        // Entries of an old generation are never asked for again; idling out frees them.
        let idle = Duration::from_secs(600);
        Self {
            totals: Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(idle)
                .build(),
            freqs: Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(idle)
                .build(),
        }
    }
}

/// BM25 statistics restricted to the documents matching every scope term.
pub(crate) struct ScopedStats<'a> {
    searcher: &'a Searcher,
    cache: &'a StatsCache,
    key: ScopeKey,
    totals: Arc<Totals>,
}

impl<'a> ScopedStats<'a> {
    /// The scope's documents and the tokens of `fields` over them: one pass over the scope's
    /// postings and field norms, the first time this searcher generation is asked.
    pub(crate) fn compute(
        searcher: &'a Searcher,
        cache: &'a StatsCache,
        scope: Vec<Term>,
        fields: &[Field],
    ) -> tantivy::Result<Self> {
        let key = (searcher.generation().generation_id(), scope);
        let totals = cache
            .totals
            .try_get_with(key.clone(), || {
                let collector = FieldTokens {
                    fields: fields.to_vec(),
                };
                let (docs, tokens) = searcher.search(&all_of(&key.1, None), &collector)?;
                let tokens = fields.iter().copied().zip(tokens).collect();
                tantivy::Result::Ok(Arc::new(Totals { docs, tokens }))
            })
            .map_err(|e| tantivy::TantivyError::InternalError(e.to_string()))?;
        Ok(Self {
            searcher,
            cache,
            key,
            totals,
        })
    }

    pub(crate) fn docs(&self) -> u64 {
        self.totals.docs
    }
}

/// Documents matching every scope term, and `term` when given.
fn all_of(scope: &[Term], term: Option<&Term>) -> BooleanQuery {
    let clauses: Vec<(Occur, Box<dyn Query>)> = scope
        .iter()
        .chain(term)
        .map(|t| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(t.clone(), IndexRecordOption::Basic));
            (Occur::Must, q)
        })
        .collect();
    BooleanQuery::new(clauses)
}

impl Bm25StatisticsProvider for ScopedStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        // Fields outside `fields` are the unscored filters.
        Ok(self.totals.tokens.get(&field).copied().unwrap_or(0))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.totals.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        // Filter terms (scope, sources) are wrapped in constant scores: their BM25 weight is
        // never used, so no count is spent on them.
        if !self.totals.tokens.contains_key(&term.field()) {
            return Ok(0);
        }
        let key = (self.key.clone(), term.clone());
        if let Some(n) = self.cache.freqs.get(&key) {
            return Ok(n);
        }
        let n = self
            .searcher
            .search(&all_of(&self.key.1, Some(term)), &Count)?;
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.cache.freqs.insert(key, n);
        Ok(n)
    }
}

/// Collects the number of documents and the sum of each field's norm (its token count, as
/// BM25 sees it) over them.
struct FieldTokens {
    fields: Vec<Field>,
}

struct SegmentTokens {
    norms: Vec<FieldNormReader>,
    docs: u64,
    tokens: Vec<u64>,
}

impl Collector for FieldTokens {
    type Fruit = (u64, Vec<u64>);
    type Child = SegmentTokens;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTokens> {
        let norms = self
            .fields
            .iter()
            .map(|f| reader.get_fieldnorms_reader(*f))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SegmentTokens {
            tokens: vec![0; norms.len()],
            norms,
            docs: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<(u64, Vec<u64>)>) -> tantivy::Result<(u64, Vec<u64>)> {
        let mut docs = 0u64;
        let mut tokens = vec![0u64; self.fields.len()];
        for (d, t) in fruits {
            docs += d;
            for (sum, n) in tokens.iter_mut().zip(t) {
                *sum += n;
            }
        }
        Ok((docs, tokens))
    }
}

impl SegmentCollector for SegmentTokens {
    type Fruit = (u64, Vec<u64>);

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.docs += 1;
        for (sum, norms) in self.tokens.iter_mut().zip(&self.norms) {
            *sum += u64::from(norms.fieldnorm(doc));
        }
    }

    fn harvest(self) -> Self::Fruit {
        (self.docs, self.tokens)
    }
}
