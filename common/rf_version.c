/* rf_version.c - run-time versions of the libraries common/ links. The only
 * global is the HDF5 version text, written once under pthread_once. */
#include "rf_version.h"

#include <pthread.h>
#include <stdio.h>

#include <grpc/grpc.h>
#include <hdf5.h>
#include <openssl/crypto.h>
#include <protobuf-c/protobuf-c.h>
#include <yaml.h>

static pthread_once_t hdf5_once = PTHREAD_ONCE_INIT;
static char hdf5_text[48] = "unknown";

static void hdf5_format(void)
{
	unsigned maj = 0, min = 0, rel = 0;

	if (H5get_libversion(&maj, &min, &rel) >= 0)
		snprintf(hdf5_text, sizeof hdf5_text, "%u.%u.%u", maj, min,
			 rel);
}

const char *rf_version_grpc(void)
{
	return grpc_version_string();
}

const char *rf_version_protobuf_c(void)
{
	return protobuf_c_version();
}

const char *rf_version_openssl(void)
{
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}

const char *rf_version_openssl_text(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

const char *rf_version_hdf5(void)
{
	pthread_once(&hdf5_once, hdf5_format);
	return hdf5_text;
}

const char *rf_version_yaml(void)
{
	return yaml_get_version_string();
}
