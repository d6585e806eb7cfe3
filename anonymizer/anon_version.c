/* anon_version.c - zlib's run-time version. */
#include "anon.h"

#include <zlib.h>

const char *anon_version_zlib(void)
{
	return zlibVersion();
}
