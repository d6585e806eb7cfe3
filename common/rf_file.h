/*
 * rf_file.h - the few file operations every part needs, done one way:
 * atomic writes (a crash leaves the old file or the new one, never a
 * partial one), capped reads, and directory creation.
 *
 * Thread safety: every function is safe to call from several threads on
 * distinct paths.
 *
 * Must not use: anything but libc, POSIX and rf_err/rf_alloc/rf_buf.
 */
#ifndef RF_FILE_H
#define RF_FILE_H

#include <stddef.h>

#include "rf_buf.h"
#include "rf_err.h"

/* Writes n bytes to path atomically: a temporary file in the same directory
 * created with mode 0600, then chmod'ed to mode, fsync'ed and renamed over
 * path; the directory is fsync'ed after. On failure path is unchanged and
 * no temporary file remains. RF_EIO (with errno's text) or RF_ENOMEM. */
enum rf_rc rf_file_write_atomic(const char *path, const void *p, size_t n,
				unsigned mode, struct rf_err *e) RF_WUR;

/* Flags of rf_file_write_atomic_flags(). */
enum rf_file_flag {
	/* Skip the fsync of the directory after the rename. The file's data
	 * is still fsync'ed before the rename, so the path holds the old
	 * content or the whole new one; but after a crash the rename itself
	 * may be lost until the caller has run rf_dir_sync() on the
	 * directory. For writing many files into few folders: sync each
	 * folder once, before reporting success. */
	RF_FILE_NO_DIR_SYNC = 1u << 0,
};

/* rf_file_write_atomic() with flags (enum rf_file_flag, or-ed; 0 is
 * rf_file_write_atomic()). Same results; RF_EINVAL for an unknown flag. */
enum rf_rc rf_file_write_atomic_flags(const char *path, const void *p,
				      size_t n, unsigned mode, unsigned flags,
				      struct rf_err *e) RF_WUR;

/* fsyncs the directory dir, so that the files created, renamed or removed
 * in it survive a crash (the same best effort as the directory sync of
 * rf_file_write_atomic). A directory that cannot be opened for another
 * reason than its absence, or a file system that does not sync
 * directories (EINVAL, EBADF, EROFS), is not an error: there is nothing
 * more to do. RF_EIO (with errno's text) when dir does not exist or is not
 * a directory, or when the sync itself fails. */
enum rf_rc rf_dir_sync(const char *dir, struct rf_err *e) RF_WUR;

/* Appends the whole of the regular file path to out, whose cap bounds the
 * size (RF_ETOOBIG beyond it, out then holds a prefix the caller should
 * discard). RF_EIO when it cannot be opened or read. The read chunk is
 * zeroized: key files go through here. */
enum rf_rc rf_file_read(const char *path, struct rf_buf *out,
			struct rf_err *e) RF_WUR;

/* Creates path and its missing parents with mode (like mkdir -p). An
 * existing directory is fine; an existing non-directory is RF_EEXIST. */
enum rf_rc rf_mkdirs(const char *path, unsigned mode, struct rf_err *e)
	RF_WUR;

/* Writes "dir/name" into out[size]. RF_ETOOBIG (naming both) when it does
 * not fit; out is then an empty string. */
enum rf_rc rf_path_join(char *out, size_t size, const char *dir,
			const char *name, struct rf_err *e) RF_WUR;

#endif
