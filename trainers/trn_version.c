/* trn_version.c - oneDNN's run-time version. The only global is the
 * version text, written once under pthread_once. */
#include "trn.h"

#include <pthread.h>
#include <stdio.h>

#include <oneapi/dnnl/dnnl.h>

static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;
static char dnnl_text[48] = "unknown";

static void dnnl_format(void)
{
	const dnnl_version_t *v = dnnl_version();

	if (v)
		snprintf(dnnl_text, sizeof dnnl_text, "%d.%d.%d", v->major,
			 v->minor, v->patch);
}

const char *trn_version_dnnl(void)
{
	pthread_once(&dnnl_once, dnnl_format);
	return dnnl_text;
}

const char *trn_version_dnnl_git(void)
{
	const dnnl_version_t *v = dnnl_version();

	return v && v->hash ? v->hash : "";
}
