/* agg_version.c - SQLite's run-time version. */
#include "agg.h"

#include <sqlite3.h>

const char *agg_version_sqlite(void)
{
	return sqlite3_libversion();
}
