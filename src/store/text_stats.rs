//! BM25 statistics of one tenant's slice of the shared tantivy index. The index holds every
//! workspace, and tantivy's own statistics (document count, average field length, term
//! document frequencies) are index-wide, so one workspace's documents would move another's
//! scores and leak what it holds. A search scores with [`ScopedStats`] instead: every figure
//! counts only the live documents that match the scope terms (workspace and item type).

use std::collections::HashMap;

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

/// BM25 statistics restricted to the documents matching every scope term.
pub(crate) struct ScopedStats<'a> {
    searcher: &'a Searcher,
    scope: Vec<Term>,
    docs: u64,
    tokens: HashMap<Field, u64>,
}

impl<'a> ScopedStats<'a> {
    /// Counts the scope's documents and the tokens of `fields` over them (one pass over the
    /// scope's postings and field norms).
    pub(crate) fn compute(
        searcher: &'a Searcher,
        scope: Vec<Term>,
        fields: &[Field],
    ) -> tantivy::Result<Self> {
        let collector = FieldTokens {
            fields: fields.to_vec(),
        };
        let (docs, tokens) = searcher.search(&all_of(&scope, None), &collector)?;
        Ok(Self {
            searcher,
            scope,
            docs,
            tokens: fields.iter().copied().zip(tokens).collect(),
        })
    }

    pub(crate) fn docs(&self) -> u64 {
        self.docs
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
        Ok(self.tokens.get(&field).copied().unwrap_or(0))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        // Filter terms (scope, sources) are wrapped in constant scores: their BM25 weight is
        // never used, so no count is spent on them.
        if !self.tokens.contains_key(&term.field()) {
            return Ok(0);
        }
        let n = self
            .searcher
            .search(&all_of(&self.scope, Some(term)), &Count)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
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
