-- Search tuning after measuring a generated 100k-variant catalog (catalog.synthetic).
-- Owned by marketplace_core.catalog (a follow-up of 0005_catalog_ext, which some
-- databases had already applied, hence a file of its own).

-- 1. Trigram (typo-tolerant) matching covers names only, in Russian and Kyrgyz. With the
--    descriptions in it, every candidate's recheck ran word_similarity over long text
--    (60 ms for 2,500 candidates instead of 20 ms). Descriptions stay in the full-text
--    vector (search_tsv), with Russian stems.
drop index products_search_trgm_idx;
alter table products drop column search_text;
alter table products add column search_text text generated always as (
    coalesce(name_ru, '') || ' ' || coalesce(name_ky, '')
) stored;
create index products_search_trgm_idx on products using gin (search_text gin_trgm_ops);

-- 2. pg_trgm declares its word-similarity operators as cheap as `=`, so for a query that
--    matches a few percent of the products the planner preferred a parallel seq scan
--    evaluating word_similarity on every row (450 ms) over the GIN bitmap (20 ms). Tell
--    it the truth. Extension member functions are not dumped: after a dump/restore this
--    must be run again (re-applying this file is harmless). Skipped with a notice when
--    another role owns the extension.
do $$
begin
    alter function word_similarity_op(text, text) cost 100;
    alter function word_similarity_commutator_op(text, text) cost 100;
exception when insufficient_privilege then
    raise notice 'pg_trgm belongs to another role; ask it to run: alter function '
                 'word_similarity_op(text, text) cost 100 (and _commutator_op)';
end $$;
