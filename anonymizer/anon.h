/*
 * anon.h - anonymizer/: de-identification inside the hospital. The part
 * holds the DICOM reader and writer, the data dictionary (anon_dict.h), the
 * PS3.15 confidentiality profile, pseudonyms, the report scrubber and pixel
 * decoding. Everything it reads is untrusted input.
 *
 * For now this header declares only the version of the zlib library
 * anonymizer/ runs with.
 *
 * Must not use: node/, aggregator/, policies/ or trainers/ headers; only
 * common/ and zlib.
 */
#ifndef ANON_H
#define ANON_H

/* zlib's version as linked at run time, zlibVersion(), e.g. "1.2.13".
 * Static storage, valid for the life of the process; thread-safe; never
 * NULL, never fails. */
const char *anon_version_zlib(void);

#endif
