-- Opaque ledger snapshots (bytes the ledger owns). The highest version of a
-- tenant is its current state; merges drop the older versions, readers take
-- argMax(state, version) so they never depend on a merge having run.
CREATE TABLE IF NOT EXISTS {db}.ledger_state
(
    tenant      String,
    version     Int64,
    state       String,
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY tenant;
