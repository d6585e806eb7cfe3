/* anon_options.c - names of the confidentiality profile's options. */
#include <string.h>

#include "anon_batch.h"

static const struct {
	const char *name;
	unsigned bit;
} options[] = {
	{ "retain-safe-private", ANON_OPT_RETAIN_SAFE_PRIVATE },
	{ "retain-uids", ANON_OPT_RETAIN_UIDS },
	{ "retain-device-id", ANON_OPT_RETAIN_DEVICE_ID },
	{ "retain-institution-id", ANON_OPT_RETAIN_INSTITUTION_ID },
	{ "retain-patient-characteristics", ANON_OPT_RETAIN_PATIENT_CHARS },
	{ "retain-full-dates", ANON_OPT_RETAIN_FULL_DATES },
	{ "retain-modified-dates", ANON_OPT_RETAIN_MODIFIED_DATES },
	{ "clean-descriptors", ANON_OPT_CLEAN_DESCRIPTORS },
	{ "clean-structured-content", ANON_OPT_CLEAN_STRUCTURED },
	{ "clean-graphics", ANON_OPT_CLEAN_GRAPHICS },
};

#define N_OPTIONS (sizeof options / sizeof options[0])

unsigned anon_option_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].name, s) == 0)
			return options[i].bit;
	return 0;
}

const char *anon_option_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < N_OPTIONS; i++)
		if (options[i].bit == bit)
			return options[i].name;
	return NULL;
}

const char *anon_option_at(size_t i, unsigned *bit)
{
	if (i >= N_OPTIONS)
		return NULL;
	if (bit)
		*bit = options[i].bit;
	return options[i].name;
}
