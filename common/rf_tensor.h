/*
 * rf_tensor.h - named float32/int32 tensors in HDF5 files.
 *
 * The one way radfed reads and writes model checkpoints and site datasets
 * (see docs/formats.md): a struct rf_h5 is an open HDF5 file; tensors are
 * datasets addressed by absolute paths such as "/params/conv1/weight"
 * (intermediate groups are created on write). On top of whole-tensor I/O:
 *
 * - extendable datasets whose first dimension grows (ingest appends one
 *   image at a time; training reads row ranges or a shuffled list of rows
 *   with bounded memory);
 * - string and numeric attributes on the root, groups and datasets;
 * - a recursive listing in a stable order (checkpoint hashing uses it).
 *
 *     struct rf_h5 *h = NULL;
 *     struct rf_tensor_info ti = {RF_DTYPE_F32, 2, {64, 3}};
 *     if (rf_h5_create("model.h5", &h, &err) ||
 *         rf_h5_write(h, "/params/fc/weight", &ti, w, NULL, &err) ||
 *         rf_h5_commit(h, &err))
 *             goto out;
 *     ...
 *     out: rf_h5_close(h);
 *
 * Files come from other sites and from disk: every shape, count and size
 * read from a file is checked against the caller's limits before memory is
 * allocated, and a file that is not HDF5, truncated or corrupt gives an
 * error (RF_EPROTO), never a crash of radfed's own code (libhdf5's parser
 * itself is trusted: keep it patched). A file cannot make radfed read
 * other files: external links, external raw-data storage and virtual
 * datasets are refused (RF_EPROTO), and HDF5's dynamic filter plugins are
 * disabled (only the built-in deflate and shuffle filters decode); soft
 * links inside the file are followed. Datasets with chunks over
 * RF_H5_CHUNK_MAX_BYTES are refused too. HDF5's automatic error printing
 * is turned off (process-wide) by the first call into this module; the
 * innermost HDF5 error description goes into struct rf_err instead, with
 * the file path and the dataset name.
 *
 * Error codes: RF_EINVAL (bad argument), RF_ENOTFOUND (missing file,
 * dataset, group or attribute), RF_EEXIST (dataset already exists),
 * RF_EPROTO (not HDF5, corrupt, wrong dtype or shape), RF_ETOOBIG (over a
 * caller's limit), RF_EIO (write, flush or filesystem failure),
 * RF_EUNSUPPORTED (libhdf5 built without deflate), RF_ENOMEM.
 *
 * Thread safety: none. Debian's libhdf5 is the serial build, which is NOT
 * thread-safe even on distinct files: the callers must serialise every call
 * into this module (and any other HDF5 use) process-wide, e.g. with one
 * mutex.
 *
 * Must not use: anything but libc, POSIX file calls, the HDF5 C API and
 * rf_err/rf_alloc. Heap memory radfed keeps comes from rf_alloc.
 */
#ifndef RF_TENSOR_H
#define RF_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

#define RF_TENSOR_MAX_RANK 8
/* Longest object path or attribute name accepted, in bytes (UTF-8). */
#define RF_H5_NAME_MAX 1024
/* Largest chunk written or read, in bytes: HDF5 allocates whole chunks on
 * its own heap while reading, so a file cannot ask for more than this. */
#define RF_H5_CHUNK_MAX_BYTES (256 << 20)

/* Element types. Stored little-endian in files we write; files written
 * big-endian by others are converted on read, bit for bit. */
enum rf_dtype {
	RF_DTYPE_NONE = 0, /* anything else (only reported by rf_h5_list) */
	RF_DTYPE_F32,      /* IEEE 754 binary32 */
	RF_DTYPE_I32,      /* two's complement signed 32-bit */
};

/* A static name: "float32", "int32" or "other". */
const char *rf_dtype_name(enum rf_dtype dt);

/* The element size in bytes (4), or 0 for RF_DTYPE_NONE. */
size_t rf_dtype_size(enum rf_dtype dt);

/* The type and shape of a tensor. rank is 1..RF_TENSOR_MAX_RANK for
 * tensors (0 only for scalars reported by rf_h5_list); dimensions may be 0
 * (an empty tensor). */
struct rf_tensor_info {
	enum rf_dtype dtype;
	unsigned rank;
	uint64_t shape[RF_TENSOR_MAX_RANK];
};

/* The element count of ti (product of the dimensions), or SIZE_MAX when it
 * does not fit in a size_t. */
size_t rf_tensor_info_count(const struct rf_tensor_info *ti);

/* How a dataset is laid out on disk. A NULL options pointer, or all zero,
 * means contiguous and uncompressed. */
struct rf_h5_wopts {
	/* chunk dimensions (first `rank` used). All zero with deflate or
	 * shuffle set: chosen automatically (about 1 MiB per chunk). Each
	 * must be >= 1 and, for fixed dimensions, <= the dimension; a chunk
	 * holds at most RF_H5_CHUNK_MAX_BYTES. A zero in a partly given
	 * shape means the whole dimension. */
	uint64_t chunk[RF_TENSOR_MAX_RANK];
	int deflate;  /* 0 = none, 1..9 = zlib level (implies chunking) */
	int shuffle;  /* non-zero: byte shuffle before deflate */
};

/* An open HDF5 file (opaque). */
struct rf_h5;

enum rf_h5_mode {
	RF_H5_RDONLY,
	RF_H5_RDWR, /* changes are made in place, not atomically */
};

/* Turns off HDF5's automatic printing of error stacks and its loading of
 * filter plugins, for the whole process. Idempotent; every rf_h5_ function
 * calls it, so calling it is only needed before using HDF5 directly. Not
 * thread-safe (see above). */
void rf_h5_init(void);

/*
 * Creates a new file to be published at `path`. The data goes to a fresh
 * temporary file "<path>.tmp-XXXXXX" in the same directory (mode 0600,
 * which the published file keeps: models and datasets are site data);
 * nothing appears at `path` until rf_h5_commit() renames it there, so a
 * crash never leaves a partial file at `path`. On success *out owns the
 * handle (release with rf_h5_close). On failure *out is NULL and no
 * temporary file remains.
 */
enum rf_rc rf_h5_create(const char *path, struct rf_h5 **out,
			struct rf_err *e) RF_WUR;

/*
 * Opens an existing file. RF_ENOTFOUND if `path` does not exist, RF_EIO if it
 * cannot be read (permissions), RF_EPROTO if it is not a valid HDF5 file
 * (including a truncated one). On failure *out is NULL.
 */
enum rf_rc rf_h5_open(const char *path, enum rf_h5_mode mode,
		      struct rf_h5 **out, struct rf_err *e) RF_WUR;

/*
 * For a handle from rf_h5_create: flushes and closes the HDF5 file, syncs
 * it to disk and renames it to its final path (replacing any file there),
 * then syncs the directory. Afterwards the handle accepts only
 * rf_h5_close(); reopen the file to read it. On failure nothing at the
 * final path has changed and the temporary file is removed by
 * rf_h5_close(). RF_EINVAL for a handle from rf_h5_open or already
 * committed.
 */
enum rf_rc rf_h5_commit(struct rf_h5 *h, struct rf_err *e) RF_WUR;

/* Closes the file and frees h. A created file that was not committed is
 * deleted. Changes to a file opened RF_H5_RDWR are flushed (errors cannot
 * be reported here: use rf_h5_flush first when they matter). Accepts
 * NULL. */
void rf_h5_close(struct rf_h5 *h);

/* Flushes a writable file's buffers to the OS. */
enum rf_rc rf_h5_flush(struct rf_h5 *h, struct rf_err *e) RF_WUR;

/* The path given to rf_h5_create/rf_h5_open (borrowed, valid until
 * rf_h5_close). */
const char *rf_h5_path(const struct rf_h5 *h);

/* ---- whole tensors ----------------------------------------------------- */

/*
 * Writes a new dataset `name` (absolute path, "/a/b/c") holding the tensor
 * described by ti, from `data` (count(ti) elements of ti->dtype, C order).
 * Missing intermediate groups are created. opts may be NULL. RF_EEXIST if
 * the name is taken; RF_EINVAL for a bad rank, dtype, name or chunk shape;
 * RF_EPROTO if a component of the path is not a group. On failure no
 * dataset `name` remains (one whose data could not be written is deleted,
 * best effort), but intermediate groups created on the way may.
 */
enum rf_rc rf_h5_write(struct rf_h5 *h, const char *name,
		       const struct rf_tensor_info *ti, const void *data,
		       const struct rf_h5_wopts *opts, struct rf_err *e) RF_WUR;

/* Fills *ti with the dtype and shape of dataset `name`. RF_ENOTFOUND if it
 * does not exist; RF_EPROTO if it is not a dataset, has rank 0 or more
 * than RF_TENSOR_MAX_RANK, or is refused (data in other files, oversized
 * chunks). Datasets of other types report RF_DTYPE_NONE. */
enum rf_rc rf_h5_info(struct rf_h5 *h, const char *name,
		      struct rf_tensor_info *ti, struct rf_err *e) RF_WUR;

/*
 * Reads the whole dataset `name` into buf, which has room for max_elems
 * elements of type dt. RF_EPROTO (naming the dataset and both types) when
 * the dataset's type is not dt; RF_ETOOBIG when it holds more than
 * max_elems elements, checked before any data is read. ti (optional)
 * receives the shape. On failure the contents of buf are unspecified.
 */
enum rf_rc rf_h5_read(struct rf_h5 *h, const char *name, enum rf_dtype dt,
		      void *buf, size_t max_elems, struct rf_tensor_info *ti,
		      struct rf_err *e) RF_WUR;

/*
 * Like rf_h5_read into a new buffer from rf_malloc, which the caller owns
 * (*out, free with rf_free). The element count is checked against max_elems
 * before allocating (RF_ETOOBIG), so a hostile file cannot make radfed
 * allocate more than max_elems elements. On failure *out is NULL.
 */
enum rf_rc rf_h5_read_alloc(struct rf_h5 *h, const char *name,
			    enum rf_dtype dt, size_t max_elems, void **out,
			    struct rf_tensor_info *ti, struct rf_err *e) RF_WUR;

/* ---- extendable datasets (rows along the first dimension) ------------- */

/*
 * Creates dataset `name` whose first dimension is unlimited: ti->shape[0]
 * is the initial row count (usually 0), ti->shape[1..] the row shape.
 * Always chunked: opts->chunk[0] rows per chunk, the other chunk
 * dimensions as in rf_h5_wopts (0 = the whole row dimension); NULL opts or
 * an all-zero chunk: whole rows, as many as fit in about 1 MiB (at least
 * one). Row dimensions must not be 0.
 * Initial rows are zero. Errors as rf_h5_write.
 */
enum rf_rc rf_h5_create_rows(struct rf_h5 *h, const char *name,
			     const struct rf_tensor_info *ti,
			     const struct rf_h5_wopts *opts,
			     struct rf_err *e) RF_WUR;

/*
 * Appends nrows rows (data: n_elems elements of dt, which must equal nrows
 * times the row size) at the end of an extendable dataset. RF_EPROTO if the
 * dataset's dtype differs or it cannot grow; RF_EINVAL if n_elems does not
 * match. On failure the dataset keeps its previous row count (best
 * effort: HDF5 errors while shrinking back are not reported).
 * Cost: each call opens and closes the dataset, so a compressed last chunk
 * that is only partly filled is decompressed and compressed again on
 * every call; append in blocks of a few chunks (node_ingest.c keeps 8 MiB
 * of rows), not row by row.
 */
enum rf_rc rf_h5_append_rows(struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, uint64_t nrows,
			     const void *data, size_t n_elems,
			     struct rf_err *e) RF_WUR;

/* The current number of rows (first dimension) of dataset `name`; errors
 * as rf_h5_info. */
enum rf_rc rf_h5_row_count(struct rf_h5 *h, const char *name,
			   uint64_t *nrows, struct rf_err *e) RF_WUR;

/*
 * Reads rows [start, start + count) of dataset `name` into buf (room for
 * max_elems elements of dt). RF_EINVAL if the range goes past the last row;
 * RF_ETOOBIG if count rows exceed max_elems elements. Works on any dataset
 * of rank >= 1, extendable or not.
 */
enum rf_rc rf_h5_read_rows(struct rf_h5 *h, const char *name,
			   enum rf_dtype dt, uint64_t start, uint64_t count,
			   void *buf, size_t max_elems,
			   struct rf_err *e) RF_WUR;

/*
 * Reads the rows idx[0], idx[1], ..., idx[n-1] (any order, repeats allowed)
 * into buf, row i of buf being row idx[i] of the dataset. Reads go in
 * ascending row order for locality. Every index is checked before anything
 * is read (RF_EINVAL when one is past the end); RF_ETOOBIG when n rows
 * exceed max_elems elements. Uses O(n) scratch memory from rf_malloc.
 */
enum rf_rc rf_h5_gather_rows(struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, const uint64_t *idx, size_t n,
			     void *buf, size_t max_elems,
			     struct rf_err *e) RF_WUR;

/* ---- attributes -------------------------------------------------------- */

/*
 * Attributes live on an object: "/" (the file root), a group or a dataset,
 * named by its absolute path. Setting replaces any attribute of the same
 * name (whatever its type). Strings are UTF-8 (checked both ways) without
 * NUL bytes; rf_h5_attr_set_str stores a variable-length string (as h5py
 * does for str), rf_h5_attr_set_fixstr a fixed-length NUL-terminated one.
 * Getting a missing attribute or object gives RF_ENOTFOUND; one of another
 * kind (e.g. a string read as a number, or not a single value) RF_EPROTO.
 */
enum rf_rc rf_h5_attr_set_str(struct rf_h5 *h, const char *obj,
			      const char *attr, const char *value,
			      struct rf_err *e) RF_WUR;
enum rf_rc rf_h5_attr_set_fixstr(struct rf_h5 *h, const char *obj,
				 const char *attr, const char *value,
				 struct rf_err *e) RF_WUR;
enum rf_rc rf_h5_attr_set_i64(struct rf_h5 *h, const char *obj,
			      const char *attr, int64_t value,
			      struct rf_err *e) RF_WUR;
enum rf_rc rf_h5_attr_set_f64(struct rf_h5 *h, const char *obj,
			      const char *attr, double value,
			      struct rf_err *e) RF_WUR;

/* Reads a string attribute (variable or fixed length) into a new
 * NUL-terminated rf_malloc buffer (*out, caller frees with rf_free).
 * RF_ETOOBIG when it is longer than max_len bytes, or for a fixed-length
 * string, when its storage is over max_len + 1 bytes (checked before
 * allocating; a variable-length string is allocated by HDF5 itself before
 * it can be measured). A fixed-length string ends at its first NUL. On
 * failure *out is NULL. */
enum rf_rc rf_h5_attr_get_str(struct rf_h5 *h, const char *obj,
			      const char *attr, size_t max_len, char **out,
			      struct rf_err *e) RF_WUR;
/* Reads an integer attribute (any integer type whose value fits). */
enum rf_rc rf_h5_attr_get_i64(struct rf_h5 *h, const char *obj,
			      const char *attr, int64_t *out,
			      struct rf_err *e) RF_WUR;
/* Reads a floating-point attribute (float32 or float64). */
enum rf_rc rf_h5_attr_get_f64(struct rf_h5 *h, const char *obj,
			      const char *attr, double *out,
			      struct rf_err *e) RF_WUR;

/* ---- listing ----------------------------------------------------------- */

/* Called once per dataset. path is absolute and borrowed for the call.
 * The callback may read through the same handle (e.g. rf_h5_read of the
 * dataset it is given: no HDF5 object is held open across the call) but
 * must not change the file. Returning anything but RF_OK stops the
 * listing, and rf_h5_list returns that code (with whatever the callback
 * put in e). */
typedef enum rf_rc (*rf_h5_list_fn)(void *ctx, const char *path,
				    const struct rf_tensor_info *ti,
				    struct rf_err *e);

/*
 * Calls fn for every dataset under `group` ("/" for the whole file),
 * recursively, depth first, children of each group in ascending byte-wise
 * (strcmp) order of their link names: for links "a", "a.b", "b" under "/"
 * where "a" is a group holding "x", the order is /a/x, /a.b, /b. The order
 * does not depend on creation order or HDF5's storage format. Only hard
 * links are followed and each group is visited once (a group reachable by
 * two paths is listed under the first), so a file with link cycles
 * terminates (a file with more than 2^20 groups fails with RF_EPROTO).
 * Datasets of other types report RF_DTYPE_NONE, scalar datasets rank 0;
 * a dataset of rank above RF_TENSOR_MAX_RANK fails with RF_EPROTO. Only
 * metadata is read: a listed dataset may still be refused by rf_h5_read
 * (rank 0, external storage, oversized chunks). Memory: the names of one
 * group at a time per level of nesting, from rf_alloc.
 */
enum rf_rc rf_h5_list(struct rf_h5 *h, const char *group, rf_h5_list_fn fn,
		      void *ctx, struct rf_err *e) RF_WUR;

#endif
