/*
 * rf_version.h - the versions of the libraries common/ links, as linked at
 * run time (not as seen by the compiler), for `radfed version` and for the
 * BuildInfo a process reports.
 *
 * Each function returns a borrowed string in static storage that stays
 * valid for the life of the process; none allocates, none fails, and all
 * are thread-safe (values that must be formatted are formatted once, under
 * pthread_once). The other parts report their own libraries the same way:
 * trn_version_dnnl() (trainers/), agg_version_sqlite() (aggregator/),
 * anon_version_zlib() (anonymizer/).
 *
 * Must not use: anything but libc, pthreads and the libraries it reports.
 */
#ifndef RF_VERSION_H
#define RF_VERSION_H

/* gRPC core's version, grpc_version_string(), e.g. "29.0.0". gRPC core is
 * numbered apart from gRPC releases: Debian 12's gRPC 1.51 reports core
 * version 29.0.0. */
const char *rf_version_grpc(void);

/* protobuf_c_version(), e.g. "1.4.1". */
const char *rf_version_protobuf_c(void);

/* OpenSSL's version number, OpenSSL_version(OPENSSL_VERSION_STRING), e.g.
 * "3.0.22". */
const char *rf_version_openssl(void);

/* OpenSSL's full version text, OpenSSL_version(OPENSSL_VERSION), e.g.
 * "OpenSSL 3.0.22 25 Aug 2026". */
const char *rf_version_openssl_text(void);

/* HDF5's H5get_libversion() as "major.minor.release", e.g. "1.10.8";
 * "unknown" if the library cannot tell. Formatted once under pthread_once;
 * that first call enters HDF5 (and initialises it), so with Debian's HDF5,
 * which is not built thread-safe, it must not run while another thread is
 * inside HDF5, like any other HDF5 call. Later calls do not touch HDF5. */
const char *rf_version_hdf5(void);

/* yaml_get_version_string(), e.g. "0.2.5". */
const char *rf_version_yaml(void);

#endif
