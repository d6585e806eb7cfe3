/*
 * agg.h - aggregator/: the sovereign aggregator. The part holds the
 * consortium CA and enrollment, the site registry (SQLite), the round state
 * machine, the secure-aggregation server, the aggregation strategies
 * (FedAvg, FedAdam, ...) and the model store.
 *
 * This header declares the version of the SQLite library aggregator/ runs
 * with; the registry is in agg_registry.h, the aggregation strategies in
 * agg_strategy.h.
 *
 * Must not use: node/ headers (node/ and aggregator/ share only proto/ and
 * common/); may use policies/, trainers/, common/ and SQLite.
 */
#ifndef AGG_H
#define AGG_H

/* SQLite's version as linked at run time, sqlite3_libversion(), e.g.
 * "3.40.1". Static storage, valid for the life of the process; thread-safe;
 * never NULL, never fails. */
const char *agg_version_sqlite(void);

#endif
