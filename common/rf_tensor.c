/* rf_tensor.c - HDF5 tensor I/O (see rf_tensor.h). No globals: HDF5's own
 * error-printing switch is process state owned by the library. */
#include "rf_tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "rf_alloc.h"

/* Target size of automatically chosen chunks. */
#define CHUNK_AUTO_BYTES (1ULL << 20)
/* Most groups rf_h5_list visits in one file. */
#define LIST_MAX_GROUPS (1 << 20)
/* Room for the innermost HDF5 error description. */
#define H5MSG_MAX 160

struct rf_h5 {
	hid_t fid;     /* H5I_INVALID_HID once closed */
	char *path;    /* the path given by the caller */
	char *tmp;     /* temporary file of a created, uncommitted file */
	int writable;
	int created;   /* from rf_h5_create */
	int committed;
};

/* ---- errors ------------------------------------------------------------ */

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *ctx)
{
	char *msg = ctx;

	/* walking upward, entry 0 is the innermost (first pushed) error */
	if (n != 0 || !err)
		return 0;
	if (err->desc && err->desc[0])
		snprintf(msg, H5MSG_MAX, "%s", err->desc);
	else if (H5Eget_msg(err->min_num, NULL, msg, H5MSG_MAX) < 0)
		msg[0] = '\0';
	return 0;
}

/* Records "<fmt...> in '<file>': <innermost HDF5 error>". Must be called
 * right after the failing HDF5 call: the next HDF5 call clears the stack. */
static enum rf_rc fail_h5(struct rf_err *e, enum rf_rc rc,
			  const struct rf_h5 *h, const char *fmt, ...)
	RF_PRINTF(4, 5);

static enum rf_rc fail_h5(struct rf_err *e, enum rf_rc rc,
			  const struct rf_h5 *h, const char *fmt, ...)
{
	char what[RF_ERR_MSG_MAX];
	char inner[H5MSG_MAX] = "";
	va_list ap;

	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, inner);
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return rf_err_set(e, rc, "%s in '%s': %s", what, h->path,
			  inner[0] ? inner : "unknown HDF5 error");
}

void rf_h5_init(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	/* a file must not make us load code: no filter plugins from
	 * HDF5_PLUGIN_PATH, only the filters built into libhdf5 */
	H5PLset_loading_state(0);
}

/* ---- types, names and checks ------------------------------------------- */

const char *rf_dtype_name(enum rf_dtype dt)
{
	switch (dt) {
	case RF_DTYPE_F32:
		return "float32";
	case RF_DTYPE_I32:
		return "int32";
	default:
		return "other";
	}
}

size_t rf_dtype_size(enum rf_dtype dt)
{
	return dt == RF_DTYPE_F32 || dt == RF_DTYPE_I32 ? 4 : 0;
}

size_t rf_tensor_info_count(const struct rf_tensor_info *ti)
{
	size_t n = 1;

	for (unsigned i = 0; i < ti->rank && i < RF_TENSOR_MAX_RANK; i++) {
		if (ti->shape[i] == 0)
			return 0;
		if (ti->shape[i] > SIZE_MAX / n)
			n = SIZE_MAX;
		else
			n *= (size_t)ti->shape[i];
	}
	return n;
}

/* a*b, or SIZE_MAX when it does not fit */
static size_t mul_sat(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		return 0;
	if (a > SIZE_MAX || b > SIZE_MAX / a)
		return SIZE_MAX;
	return (size_t)(a * b);
}

static hid_t mem_type(enum rf_dtype dt)
{
	return dt == RF_DTYPE_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32;
}

static hid_t file_type(enum rf_dtype dt)
{
	return dt == RF_DTYPE_F32 ? H5T_IEEE_F32LE : H5T_STD_I32LE;
}

static int dtype_valid(enum rf_dtype dt)
{
	return dt == RF_DTYPE_F32 || dt == RF_DTYPE_I32;
}

/* The rf_dtype of an HDF5 type, and a short description of it. */
static enum rf_dtype dtype_of(hid_t t, char *desc, size_t n)
{
	H5T_class_t c = H5Tget_class(t);
	size_t bits = H5Tget_size(t) * 8;

	switch (c) {
	case H5T_FLOAT:
		if (H5Tequal(t, H5T_IEEE_F32LE) > 0 ||
		    H5Tequal(t, H5T_IEEE_F32BE) > 0) {
			snprintf(desc, n, "float32");
			return RF_DTYPE_F32;
		}
		snprintf(desc, n, "float%zu", bits);
		return RF_DTYPE_NONE;
	case H5T_INTEGER:
		if (H5Tequal(t, H5T_STD_I32LE) > 0 ||
		    H5Tequal(t, H5T_STD_I32BE) > 0) {
			snprintf(desc, n, "int32");
			return RF_DTYPE_I32;
		}
		snprintf(desc, n, "%sint%zu",
			 H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
		return RF_DTYPE_NONE;
	case H5T_STRING:
		snprintf(desc, n, "string");
		return RF_DTYPE_NONE;
	case H5T_COMPOUND:
		snprintf(desc, n, "compound");
		return RF_DTYPE_NONE;
	default:
		snprintf(desc, n, "HDF5 type class %d", (int)c);
		return RF_DTYPE_NONE;
	}
}

static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
			return 0;
		i += need + 1;
	}
	return 1;
}

static enum rf_rc check_handle(const struct rf_h5 *h, int write,
			       struct rf_err *e)
{
	if (!h)
		return rf_err_set(e, RF_EINVAL, "no HDF5 file handle");
	if (h->fid == H5I_INVALID_HID)
		return rf_err_set(e, RF_EINVAL, "'%s' is closed", h->path);
	if (write && !h->writable)
		return rf_err_set(e, RF_EINVAL, "'%s' is open read-only",
				  h->path);
	rf_h5_init();
	return RF_OK;
}

/* An absolute object path: "/" (if allow_root) or "/a/b" with no empty,
 * "." or ".." component and no trailing slash. */
static enum rf_rc check_name(const struct rf_h5 *h, const char *name,
			     int allow_root, struct rf_err *e)
{
	size_t len;
	const char *p;

	if (!name || name[0] != '/')
		return rf_err_set(e, RF_EINVAL,
				  "object name '%s' in '%s' is not absolute",
				  name ? name : "(null)", h->path);
	len = strnlen(name, RF_H5_NAME_MAX);
	if (len >= RF_H5_NAME_MAX)
		return rf_err_set(e, RF_EINVAL, "object name in '%s' is longer "
				  "than %d bytes", h->path,
				  RF_H5_NAME_MAX - 1);
	if (!utf8_valid((const unsigned char *)name, len))
		return rf_err_set(e, RF_EINVAL, "object name in '%s' is not "
				  "UTF-8", h->path);
	if (len == 1)
		return allow_root ? RF_OK :
			rf_err_set(e, RF_EINVAL, "'/' in '%s' is the root "
				   "group, not a dataset name", h->path);
	for (p = name; *p; ) {
		const char *q = strchr(p + 1, '/');
		size_t clen = q ? (size_t)(q - p - 1) : strlen(p + 1);

		if (clen == 0 || (clen == 1 && p[1] == '.') ||
		    (clen == 2 && p[1] == '.' && p[2] == '.'))
			return rf_err_set(e, RF_EINVAL, "invalid object name "
					  "'%s' in '%s'", name, h->path);
		p = q ? q : p + 1 + clen;
	}
	return RF_OK;
}

static enum rf_rc check_attr_name(const struct rf_h5 *h, const char *attr,
				  struct rf_err *e)
{
	size_t len;

	if (!attr)
		return rf_err_set(e, RF_EINVAL, "no attribute name for '%s'",
				  h->path);
	len = strnlen(attr, RF_H5_NAME_MAX);
	if (len == 0 || len >= RF_H5_NAME_MAX ||
	    !utf8_valid((const unsigned char *)attr, len))
		return rf_err_set(e, RF_EINVAL, "invalid attribute name for "
				  "'%s'", h->path);
	return RF_OK;
}

/* RF_OK if every link along `name` leads to an object, RF_ENOTFOUND if
 * not, another code on error (all with a message). Every component but
 * the last must be a group; external and user-defined links are refused
 * (they would make HDF5 open other files). name is valid per check_name. */
static enum rf_rc path_exists(const struct rf_h5 *h, const char *name,
			      struct rf_err *e)
{
	char buf[RF_H5_NAME_MAX];
	size_t len = strlen(name);
	H5L_info_t li;
	H5O_info_t oi;
	htri_t r;

	if (len == 1)
		return RF_OK;
	memcpy(buf, name, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		r = H5Lexists(h->fid, buf, H5P_DEFAULT);
		if (r < 0)
			return fail_h5(e, RF_EPROTO, h, "cannot look up '%s'",
				       buf);
		if (r == 0)
			return rf_err_set(e, RF_ENOTFOUND, "no '%s' in '%s'",
					  buf, h->path);
		if (H5Lget_info(h->fid, buf, &li, H5P_DEFAULT) < 0)
			return fail_h5(e, RF_EPROTO, h, "cannot look up '%s'",
				       buf);
		if (li.type != H5L_TYPE_HARD && li.type != H5L_TYPE_SOFT)
			return rf_err_set(e, RF_EPROTO, "'%s' in '%s' is an "
					  "external link, not followed", buf,
					  h->path);
		r = H5Oexists_by_name(h->fid, buf, H5P_DEFAULT);
		if (r < 0)
			return fail_h5(e, RF_EPROTO, h, "cannot look up '%s'",
				       buf);
		if (r == 0)
			return rf_err_set(e, RF_ENOTFOUND, "'%s' in '%s' is a "
					  "dangling link", buf, h->path);
		if (i < len) {
			if (H5Oget_info_by_name2(h->fid, buf, &oi,
						 H5O_INFO_BASIC,
						 H5P_DEFAULT) < 0)
				return fail_h5(e, RF_EPROTO, h, "cannot "
					       "inspect '%s'", buf);
			if (oi.type != H5O_TYPE_GROUP)
				return rf_err_set(e, RF_EPROTO, "'%s' in '%s' "
						  "is not a group", buf,
						  h->path);
		}
		buf[i] = name[i];
	}
	return RF_OK;
}

/* Opens any object (root, group, dataset) by absolute name. */
static enum rf_rc open_obj(const struct rf_h5 *h, const char *name,
			   hid_t *oid, struct rf_err *e)
{
	enum rf_rc rc;

	*oid = H5I_INVALID_HID;
	if ((rc = check_name(h, name, 1, e)))
		return rc;
	if ((rc = path_exists(h, name, e)))
		return rc;
	*oid = H5Oopen(h->fid, name, H5P_DEFAULT);
	if (*oid < 0) {
		*oid = H5I_INVALID_HID;
		return fail_h5(e, RF_EPROTO, h, "cannot open '%s'", name);
	}
	return RF_OK;
}

/* Bytes in a chunk of r dimensions of elem-byte elements, saturating at
 * UINT64_MAX. */
static uint64_t chunk_size(const hsize_t *chunk, unsigned r, uint64_t elem)
{
	uint64_t n = elem;

	for (unsigned i = 0; i < r; i++) {
		if (chunk[i] != 0 && n > UINT64_MAX / chunk[i])
			return UINT64_MAX;
		n *= chunk[i];
	}
	return n;
}

/* The size in bytes of one chunk of dset (UINT64_MAX if unknown). */
static uint64_t chunk_bytes(hid_t dset, hid_t dcpl)
{
	hsize_t dims[H5S_MAX_RANK];
	hid_t type = H5Dget_type(dset);
	uint64_t n = type < 0 ? 0 : H5Tget_size(type);
	int nd = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);

	if (type >= 0)
		H5Tclose(type);
	if (n == 0 || nd < 1)
		return UINT64_MAX;
	return chunk_size(dims, (unsigned)nd, n);
}

/* Refuses datasets whose data lives in other files (external raw storage,
 * virtual datasets): reading them would read files the caller never
 * named; and chunks so large that HDF5's own chunk buffer would be. */
static enum rf_rc check_storage(const struct rf_h5 *h, const char *name,
				hid_t dset, struct rf_err *e)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	uint64_t cbytes = 0;
	H5D_layout_t layout;
	int next;

	if (dcpl < 0)
		return fail_h5(e, RF_EPROTO, h, "cannot inspect dataset '%s'",
			       name);
	layout = H5Pget_layout(dcpl);
	next = H5Pget_external_count(dcpl);
	if (layout == H5D_CHUNKED)
		cbytes = chunk_bytes(dset, dcpl);
	H5Pclose(dcpl);
	if (cbytes > RF_H5_CHUNK_MAX_BYTES)
		return rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' has "
				  "chunks over %d MiB, not read", name,
				  h->path, RF_H5_CHUNK_MAX_BYTES >> 20);
	if (layout == H5D_VIRTUAL || next != 0)
		return rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' keeps "
				  "its data in other files, not read", name,
				  h->path);
	if (layout < 0)
		return rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' has an "
				  "unknown layout", name, h->path);
	return RF_OK;
}

static enum rf_rc open_dset(const struct rf_h5 *h, const char *name,
			    hid_t *dset, struct rf_err *e)
{
	H5O_info_t oi;
	enum rf_rc rc;

	*dset = H5I_INVALID_HID;
	if ((rc = check_name(h, name, 0, e)))
		return rc;
	if ((rc = path_exists(h, name, e)))
		return rc;
	if (H5Oget_info_by_name2(h->fid, name, &oi, H5O_INFO_BASIC,
				 H5P_DEFAULT) < 0)
		return fail_h5(e, RF_EPROTO, h, "cannot inspect '%s'", name);
	if (oi.type != H5O_TYPE_DATASET)
		return rf_err_set(e, RF_EPROTO, "'%s' in '%s' is not a dataset",
				  name, h->path);
	*dset = H5Dopen2(h->fid, name, H5P_DEFAULT);
	if (*dset < 0) {
		*dset = H5I_INVALID_HID;
		return fail_h5(e, RF_EPROTO, h, "cannot open dataset '%s'",
			       name);
	}
	if ((rc = check_storage(h, name, *dset, e))) {
		H5Dclose(*dset);
		*dset = H5I_INVALID_HID;
	}
	return rc;
}

/* The dtype and shape of an open dataset; maxdims (optional) receives the
 * maximum dimensions, desc a description of the stored type. Rank 0
 * (scalars) only when scalar_ok. */
static enum rf_rc dset_info(const struct rf_h5 *h, const char *name,
			    hid_t dset, int scalar_ok,
			    struct rf_tensor_info *ti, hsize_t *maxdims,
			    char *desc, size_t descn, struct rf_err *e)
{
	hsize_t dims[H5S_MAX_RANK], maxd[H5S_MAX_RANK];
	hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
	enum rf_rc rc = RF_OK;
	int nd;

	memset(ti, 0, sizeof *ti);
	type = H5Dget_type(dset);
	if (type < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read the type of '%s'",
			     name);
		goto out;
	}
	ti->dtype = dtype_of(type, desc, descn);
	space = H5Dget_space(dset);
	if (space < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read the shape of '%s'",
			     name);
		goto out;
	}
	nd = H5Sget_simple_extent_ndims(space);
	if (nd < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read the shape of '%s'",
			     name);
		goto out;
	}
	if ((nd < 1 && !scalar_ok) || nd > RF_TENSOR_MAX_RANK) {
		rc = rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' has rank "
				"%d, not 1..%d", name, h->path, nd,
				RF_TENSOR_MAX_RANK);
		goto out;
	}
	if (H5Sget_simple_extent_dims(space, dims, maxd) != nd) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read the shape of '%s'",
			     name);
		goto out;
	}
	ti->rank = (unsigned)nd;
	for (int i = 0; i < nd; i++) {
		ti->shape[i] = dims[i];
		if (maxdims)
			maxdims[i] = maxd[i];
	}
out:
	if (space >= 0)
		H5Sclose(space);
	if (type >= 0)
		H5Tclose(type);
	return rc;
}

/* Opens dataset `name` and checks that it holds dt. */
static enum rf_rc open_typed(const struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, hid_t *dset,
			     struct rf_tensor_info *ti, hsize_t *maxdims,
			     struct rf_err *e)
{
	char desc[48];
	enum rf_rc rc;

	if (!dtype_valid(dt))
		return rf_err_set(e, RF_EINVAL, "invalid dtype %d for '%s'",
				  (int)dt, h->path);
	if ((rc = open_dset(h, name, dset, e)))
		return rc;
	rc = dset_info(h, name, *dset, 0, ti, maxdims, desc, sizeof desc, e);
	if (!rc && ti->dtype != dt)
		rc = rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' is %s, "
				"expected %s", name, h->path, desc,
				rf_dtype_name(dt));
	if (rc) {
		H5Dclose(*dset);
		*dset = H5I_INVALID_HID;
	}
	return rc;
}

/* ---- files ------------------------------------------------------------- */

static hid_t make_fapl(void)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

	/* H5Fclose really closes the file (and every object left open) */
	if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
		H5Pclose(fapl);
		fapl = H5I_INVALID_HID;
	}
	return fapl;
}

static enum rf_rc h5_new(const char *path, struct rf_h5 **out,
			 struct rf_err *e)
{
	struct rf_h5 *h = rf_calloc(1, sizeof *h);

	if (!h)
		return rf_err_set(e, RF_ENOMEM, "out of memory opening '%s'",
				  path);
	h->fid = H5I_INVALID_HID;
	h->path = rf_strdup(path);
	if (!h->path) {
		rf_free(h);
		return rf_err_set(e, RF_ENOMEM, "out of memory opening '%s'",
				  path);
	}
	*out = h;
	return RF_OK;
}

enum rf_rc rf_h5_create(const char *path, struct rf_h5 **out,
			struct rf_err *e)
{
	static const char suffix[] = ".tmp-XXXXXX";
	struct rf_h5 *h = NULL;
	hid_t fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
	enum rf_rc rc;
	size_t len;
	int fd = -1;

	rf_h5_init();
	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for rf_h5_create");
	*out = NULL;
	if (!path || !*path)
		return rf_err_set(e, RF_EINVAL, "empty HDF5 file path");
	len = strnlen(path, 4096);
	if (len >= 4096)
		return rf_err_set(e, RF_EINVAL, "HDF5 file path too long");
	if ((rc = h5_new(path, &h, e)))
		return rc;
	h->tmp = rf_malloc(len + sizeof suffix);
	if (!h->tmp) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory creating '%s'",
				path);
		goto fail;
	}
	memcpy(h->tmp, path, len);
	memcpy(h->tmp + len, suffix, sizeof suffix);
	fd = mkstemp(h->tmp);
	if (fd < 0) {
		rc = rf_err_set(e, errno == ENOENT ? RF_ENOTFOUND : RF_EIO,
				"cannot create '%s': %s", h->tmp,
				strerror(errno));
		rf_free(h->tmp);
		h->tmp = NULL;
		goto fail;
	}
	fapl = make_fapl();
	if (fapl < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot create file properties");
		goto fail;
	}
	fcpl = H5Pcreate(H5P_FILE_CREATE);
	if (fcpl < 0 || H5Pset_obj_track_times(fcpl, 0) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot create file properties");
		goto fail;
	}
	h->fid = H5Fcreate(h->tmp, H5F_ACC_TRUNC, fcpl, fapl);
	if (h->fid < 0) {
		h->fid = H5I_INVALID_HID;
		rc = fail_h5(e, RF_EIO, h, "cannot create HDF5 file '%s'",
			     h->tmp);
		goto fail;
	}
	H5Pclose(fapl);
	H5Pclose(fcpl);
	close(fd);
	h->writable = 1;
	h->created = 1;
	*out = h;
	return RF_OK;
fail:
	if (fapl >= 0)
		H5Pclose(fapl);
	if (fcpl >= 0)
		H5Pclose(fcpl);
	if (fd >= 0)
		close(fd);
	rf_h5_close(h);
	return rc;
}

enum rf_rc rf_h5_open(const char *path, enum rf_h5_mode mode,
		      struct rf_h5 **out, struct rf_err *e)
{
	struct rf_h5 *h = NULL;
	hid_t fapl = H5I_INVALID_HID;
	struct stat st;
	enum rf_rc rc;
	int fd;

	rf_h5_init();
	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for rf_h5_open");
	*out = NULL;
	if (!path || !*path)
		return rf_err_set(e, RF_EINVAL, "empty HDF5 file path");
	if (mode != RF_H5_RDONLY && mode != RF_H5_RDWR)
		return rf_err_set(e, RF_EINVAL, "invalid mode for '%s'", path);
	fd = open(path, mode == RF_H5_RDWR ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return rf_err_set(e, errno == ENOENT ? RF_ENOTFOUND : RF_EIO,
				  "cannot open '%s': %s", path,
				  strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rf_err_set(e, RF_EIO, "cannot open '%s': not a "
				  "regular file", path);
	}
	close(fd);
	if ((rc = h5_new(path, &h, e)))
		return rc;
	/* H5Fopen would turn an empty file opened read-write into a new
	 * HDF5 file: check for the signature first */
	if (H5Fis_hdf5(path) <= 0) {
		char inner[H5MSG_MAX] = "";

		H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, inner);
		rc = rf_err_set(e, RF_EPROTO, "cannot open '%s': not an HDF5 "
				"file: %s", path,
				inner[0] ? inner : "file signature not found");
		goto fail;
	}
	fapl = make_fapl();
	if (fapl < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot create file properties");
		goto fail;
	}
	h->fid = H5Fopen(path, mode == RF_H5_RDWR ? H5F_ACC_RDWR :
			 H5F_ACC_RDONLY, fapl);
	if (h->fid < 0) {
		char inner[H5MSG_MAX] = "";

		h->fid = H5I_INVALID_HID;
		H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, inner);
		rc = rf_err_set(e, RF_EPROTO, "cannot open '%s': not a valid "
				"HDF5 file: %s", path,
				inner[0] ? inner : "unknown HDF5 error");
		goto fail;
	}
	H5Pclose(fapl);
	h->writable = mode == RF_H5_RDWR;
	*out = h;
	return RF_OK;
fail:
	if (fapl >= 0)
		H5Pclose(fapl);
	rf_h5_close(h);
	return rc;
}

/* fsync the directory holding path, best effort */
static void sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd;

	if (!slash) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof dir)
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

enum rf_rc rf_h5_commit(struct rf_h5 *h, struct rf_err *e)
{
	enum rf_rc rc;
	int fd;

	if ((rc = check_handle(h, 1, e)))
		return rc;
	if (!h->created || h->committed || !h->tmp)
		return rf_err_set(e, RF_EINVAL, "'%s' was not created by "
				  "rf_h5_create or is already committed",
				  h->path);
	if (H5Fflush(h->fid, H5F_SCOPE_GLOBAL) < 0)
		return fail_h5(e, RF_EIO, h, "cannot flush '%s'", h->tmp);
	if (H5Fclose(h->fid) < 0) {
		h->fid = H5I_INVALID_HID;
		return fail_h5(e, RF_EIO, h, "cannot close '%s'", h->tmp);
	}
	h->fid = H5I_INVALID_HID;
	fd = open(h->tmp, O_RDONLY);
	if (fd < 0 || fsync(fd) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot sync '%s': %s", h->tmp,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	if (rename(h->tmp, h->path) != 0)
		return rf_err_set(e, RF_EIO, "cannot rename '%s' to '%s': %s",
				  h->tmp, h->path, strerror(errno));
	sync_dir(h->path);
	rf_free(h->tmp);
	h->tmp = NULL;
	h->committed = 1;
	return RF_OK;
}

enum rf_rc rf_h5_flush(struct rf_h5 *h, struct rf_err *e)
{
	enum rf_rc rc;

	if ((rc = check_handle(h, 1, e)))
		return rc;
	if (H5Fflush(h->fid, H5F_SCOPE_LOCAL) < 0)
		return fail_h5(e, RF_EIO, h, "cannot flush");
	return RF_OK;
}

void rf_h5_close(struct rf_h5 *h)
{
	if (!h)
		return;
	rf_h5_init();
	if (h->fid != H5I_INVALID_HID)
		H5Fclose(h->fid);
	if (h->tmp) {
		unlink(h->tmp);
		rf_free(h->tmp);
	}
	rf_free(h->path);
	rf_free(h);
}

const char *rf_h5_path(const struct rf_h5 *h)
{
	return h ? h->path : NULL;
}

/* ---- writing ----------------------------------------------------------- */

static enum rf_rc check_info(const struct rf_h5 *h, const char *name,
			     const struct rf_tensor_info *ti, struct rf_err *e)
{
	if (!ti || !dtype_valid(ti->dtype) || ti->rank < 1 ||
	    ti->rank > RF_TENSOR_MAX_RANK)
		return rf_err_set(e, RF_EINVAL, "invalid dtype or rank for "
				  "'%s' in '%s'", name, h->path);
	if (rf_tensor_info_count(ti) > SIZE_MAX / 4)
		return rf_err_set(e, RF_ETOOBIG, "tensor '%s' for '%s' is too "
				  "large", name, h->path);
	return RF_OK;
}

/* Dataset creation properties: contiguous, or chunked (+ filters). */
static enum rf_rc make_dcpl(const struct rf_h5 *h, const char *name,
			    const struct rf_tensor_info *ti,
			    const struct rf_h5_wopts *o, int extendable,
			    hid_t *out, struct rf_err *e)
{
	hsize_t chunk[RF_TENSOR_MAX_RANK];
	uint64_t bytes;
	int any = 0, want;
	unsigned r = ti->rank, i;
	enum rf_rc rc;
	hid_t dcpl;

	*out = H5I_INVALID_HID;
	if (o && (o->deflate < 0 || o->deflate > 9))
		return rf_err_set(e, RF_EINVAL, "deflate level %d for '%s' is "
				  "not 0..9", o->deflate, name);
	for (i = 0; o && i < r; i++)
		any |= o->chunk[i] != 0;
	want = extendable || (o && (any || o->deflate || o->shuffle));
	if (want && !extendable && rf_tensor_info_count(ti) == 0)
		want = 0; /* HDF5 cannot chunk an empty fixed-size dataset */
	for (i = extendable ? 1 : 0; want && i < r; i++)
		if (ti->shape[i] == 0)
			return rf_err_set(e, RF_EINVAL, "row dimensions of "
					  "'%s' must not be 0", name);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	/* no modification times in object headers: the same content gives
	 * the same file bytes (model hashes are over the file) */
	if (dcpl >= 0 && H5Pset_obj_track_times(dcpl, 0) < 0) {
		H5Pclose(dcpl);
		dcpl = H5I_INVALID_HID;
	}
	if (dcpl < 0)
		return fail_h5(e, RF_EIO, h, "cannot create properties for "
			       "'%s'", name);
	if (!want) {
		*out = dcpl;
		return RF_OK;
	}
	for (i = 0; i < r; i++) {
		uint64_t c = o ? o->chunk[i] : 0;

		if (c == 0)
			c = (extendable && i == 0) ? 1 : ti->shape[i];
		if (c > ti->shape[i] && !(extendable && i == 0)) {
			H5Pclose(dcpl);
			return rf_err_set(e, RF_EINVAL, "chunk dimension %u of "
					  "'%s' is larger than the dataset",
					  i, name);
		}
		chunk[i] = c;
	}
	bytes = chunk_size(chunk, r, 4);
	if (!any && extendable) {
		/* whole rows, about CHUNK_AUTO_BYTES */
		if (bytes < CHUNK_AUTO_BYTES)
			chunk[0] = CHUNK_AUTO_BYTES / bytes;
	} else if (!any) {
		/* halve leading dimensions down to about CHUNK_AUTO_BYTES */
		for (i = 0; i < r && bytes > CHUNK_AUTO_BYTES; ) {
			if (chunk[i] <= 1) {
				i++;
				continue;
			}
			chunk[i] = (chunk[i] + 1) / 2;
			bytes = chunk_size(chunk, r, 4);
		}
	}
	bytes = chunk_size(chunk, r, 4);
	if (bytes > RF_H5_CHUNK_MAX_BYTES) {
		H5Pclose(dcpl);
		return rf_err_set(e, RF_EINVAL, "chunks of '%s' would exceed "
				  "%d MiB", name, RF_H5_CHUNK_MAX_BYTES >> 20);
	}
	if (H5Pset_chunk(dcpl, (int)r, chunk) < 0)
		goto h5fail;
	if (o && o->shuffle && H5Pset_shuffle(dcpl) < 0)
		goto h5fail;
	if (o && o->deflate) {
		if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
			H5Pclose(dcpl);
			return rf_err_set(e, RF_EUNSUPPORTED, "this HDF5 has "
					  "no deflate filter for '%s'", name);
		}
		if (H5Pset_deflate(dcpl, (unsigned)o->deflate) < 0)
			goto h5fail;
	}
	*out = dcpl;
	return RF_OK;
h5fail:
	rc = fail_h5(e, RF_EIO, h, "cannot set the layout of '%s'", name);
	H5Pclose(dcpl);
	return rc;
}

static enum rf_rc create_dset(struct rf_h5 *h, const char *name,
			      const struct rf_tensor_info *ti,
			      const struct rf_h5_wopts *opts, int extendable,
			      hid_t *dset, struct rf_err *e)
{
	hsize_t dims[RF_TENSOR_MAX_RANK], maxd[RF_TENSOR_MAX_RANK];
	hid_t dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	enum rf_rc rc;

	*dset = H5I_INVALID_HID;
	if ((rc = check_handle(h, 1, e)) || (rc = check_name(h, name, 0, e)) ||
	    (rc = check_info(h, name, ti, e)))
		return rc;
	rc = path_exists(h, name, e);
	if (rc == RF_OK)
		return rf_err_set(e, RF_EEXIST, "'%s' already exists in '%s'",
				  name, h->path);
	if (rc != RF_ENOTFOUND)
		return rc;
	rf_err_clear(e);
	if ((rc = make_dcpl(h, name, ti, opts, extendable, &dcpl, e)))
		return rc;
	for (unsigned i = 0; i < ti->rank; i++)
		dims[i] = maxd[i] = ti->shape[i];
	if (extendable)
		maxd[0] = H5S_UNLIMITED;
	lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
	    H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot create properties for "
			     "'%s'", name);
		goto out;
	}
	space = H5Screate_simple((int)ti->rank, dims, maxd);
	if (space < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot create the shape of '%s'",
			     name);
		goto out;
	}
	*dset = H5Dcreate2(h->fid, name, file_type(ti->dtype), space, lcpl,
			   dcpl, H5P_DEFAULT);
	if (*dset < 0) {
		*dset = H5I_INVALID_HID;
		rc = fail_h5(e, RF_EIO, h, "cannot create dataset '%s'", name);
		goto out;
	}
	rc = RF_OK;
out:
	if (space >= 0)
		H5Sclose(space);
	if (lcpl >= 0)
		H5Pclose(lcpl);
	H5Pclose(dcpl);
	return rc;
}

enum rf_rc rf_h5_write(struct rf_h5 *h, const char *name,
		       const struct rf_tensor_info *ti, const void *data,
		       const struct rf_h5_wopts *opts, struct rf_err *e)
{
	hid_t dset;
	enum rf_rc rc;

	if (h && ti && !data && rf_tensor_info_count(ti) != 0)
		return rf_err_set(e, RF_EINVAL, "no data for '%s'",
				  name ? name : "(null)");
	if ((rc = create_dset(h, name, ti, opts, 0, &dset, e)))
		return rc;
	if (rf_tensor_info_count(ti) != 0 &&
	    H5Dwrite(dset, mem_type(ti->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT,
		     data) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot write dataset '%s'", name);
		H5Dclose(dset);
		H5Ldelete(h->fid, name, H5P_DEFAULT);
		return rc;
	}
	if (H5Dclose(dset) < 0)
		return fail_h5(e, RF_EIO, h, "cannot write dataset '%s'", name);
	return RF_OK;
}

enum rf_rc rf_h5_create_rows(struct rf_h5 *h, const char *name,
			     const struct rf_tensor_info *ti,
			     const struct rf_h5_wopts *opts, struct rf_err *e)
{
	hid_t dset;
	enum rf_rc rc;

	if ((rc = create_dset(h, name, ti, opts, 1, &dset, e)))
		return rc;
	if (H5Dclose(dset) < 0)
		return fail_h5(e, RF_EIO, h, "cannot create dataset '%s'",
			       name);
	return RF_OK;
}

/* ---- reading ----------------------------------------------------------- */

static enum rf_rc too_big(const struct rf_h5 *h, const char *name,
			  size_t n, size_t max, struct rf_err *e)
{
	if (n == SIZE_MAX)
		return rf_err_set(e, RF_ETOOBIG, "reading '%s' in '%s' needs "
				  "more than %zu elements, limit %zu", name,
				  h->path, SIZE_MAX - 1, max);
	return rf_err_set(e, RF_ETOOBIG, "reading '%s' in '%s' needs %zu "
			  "elements, limit %zu", name, h->path, n, max);
}

enum rf_rc rf_h5_info(struct rf_h5 *h, const char *name,
		      struct rf_tensor_info *ti, struct rf_err *e)
{
	char desc[48];
	hid_t dset;
	enum rf_rc rc;

	if ((rc = check_handle(h, 0, e)))
		return rc;
	if (!ti)
		return rf_err_set(e, RF_EINVAL, "no output for '%s'", h->path);
	if ((rc = open_dset(h, name, &dset, e)))
		return rc;
	rc = dset_info(h, name, dset, 0, ti, NULL, desc, sizeof desc, e);
	H5Dclose(dset);
	return rc;
}

static enum rf_rc read_whole(struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, void *buf, size_t max_elems,
			     void **out, struct rf_tensor_info *ti,
			     struct rf_err *e)
{
	struct rf_tensor_info t;
	hid_t dset = H5I_INVALID_HID;
	void *mem = NULL;
	enum rf_rc rc;
	size_t n;

	if ((rc = check_handle(h, 0, e)))
		return rc;
	if ((rc = open_typed(h, name, dt, &dset, &t, NULL, e)))
		return rc;
	n = rf_tensor_info_count(&t);
	if (n > max_elems) {
		rc = too_big(h, name, n, max_elems, e);
		goto out;
	}
	if (out) {
		mem = rf_mallocarray(n, 4);
		if (!mem) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory reading "
					"'%s' in '%s'", name, h->path);
			goto out;
		}
		buf = mem;
	}
	if (n && H5Dread(dset, mem_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT,
			 buf) < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read dataset '%s'", name);
		goto out;
	}
	if (out) {
		*out = mem;
		mem = NULL;
	}
	if (ti)
		*ti = t;
out:
	rf_free(mem);
	H5Dclose(dset);
	return rc;
}

enum rf_rc rf_h5_read(struct rf_h5 *h, const char *name, enum rf_dtype dt,
		      void *buf, size_t max_elems, struct rf_tensor_info *ti,
		      struct rf_err *e)
{
	if (!buf && max_elems)
		return rf_err_set(e, RF_EINVAL, "no buffer to read '%s'",
				  name ? name : "(null)");
	return read_whole(h, name, dt, buf, max_elems, NULL, ti, e);
}

enum rf_rc rf_h5_read_alloc(struct rf_h5 *h, const char *name,
			    enum rf_dtype dt, size_t max_elems, void **out,
			    struct rf_tensor_info *ti, struct rf_err *e)
{
	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output to read '%s'",
				  name ? name : "(null)");
	*out = NULL;
	return read_whole(h, name, dt, NULL, max_elems, out, ti, e);
}

/* ---- rows -------------------------------------------------------------- */

static uint64_t row_elems(const struct rf_tensor_info *ti)
{
	uint64_t n = 1;

	for (unsigned i = 1; i < ti->rank; i++)
		n = mul_sat(n, ti->shape[i]);
	return n;
}

enum rf_rc rf_h5_append_rows(struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, uint64_t nrows,
			     const void *data, size_t n_elems,
			     struct rf_err *e)
{
	hsize_t maxd[H5S_MAX_RANK], dims[RF_TENSOR_MAX_RANK];
	hsize_t start[RF_TENSOR_MAX_RANK] = {0}, count[RF_TENSOR_MAX_RANK];
	hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
	hid_t mspace = H5I_INVALID_HID;
	struct rf_tensor_info t;
	enum rf_rc rc;
	uint64_t old;

	if ((rc = check_handle(h, 1, e)))
		return rc;
	if ((rc = open_typed(h, name, dt, &dset, &t, maxd, e)))
		return rc;
	old = t.shape[0];
	if (mul_sat(nrows, row_elems(&t)) != n_elems || (n_elems && !data)) {
		rc = rf_err_set(e, RF_EINVAL, "appending %llu rows to '%s' in "
				"'%s' needs %zu elements, got %zu",
				(unsigned long long)nrows, name, h->path,
				mul_sat(nrows, row_elems(&t)), n_elems);
		goto out;
	}
	if (nrows == 0)
		goto out;
	if ((maxd[0] != H5S_UNLIMITED && maxd[0] - old < nrows) ||
	    UINT64_MAX - old < nrows) {
		rc = rf_err_set(e, RF_EPROTO, "dataset '%s' in '%s' cannot "
				"grow by %llu rows", name, h->path,
				(unsigned long long)nrows);
		goto out;
	}
	for (unsigned i = 0; i < t.rank; i++)
		dims[i] = count[i] = t.shape[i];
	dims[0] = old + nrows;
	count[0] = nrows;
	start[0] = old;
	if (H5Dset_extent(dset, dims) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot grow dataset '%s'", name);
		goto out;
	}
	fspace = H5Dget_space(dset);
	mspace = H5Screate_simple((int)t.rank, count, NULL);
	if (fspace < 0 || mspace < 0 ||
	    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count,
				NULL) < 0 ||
	    H5Dwrite(dset, mem_type(dt), mspace, fspace, H5P_DEFAULT,
		     data) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot append to dataset '%s'",
			     name);
		dims[0] = old;
		H5Dset_extent(dset, dims);
		goto out;
	}
out:
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	H5Dclose(dset);
	return rc;
}

enum rf_rc rf_h5_row_count(struct rf_h5 *h, const char *name,
			   uint64_t *nrows, struct rf_err *e)
{
	struct rf_tensor_info t;
	enum rf_rc rc;

	if (!nrows)
		return rf_err_set(e, RF_EINVAL, "no output for row count");
	if ((rc = rf_h5_info(h, name, &t, e)))
		return rc;
	*nrows = t.shape[0];
	return RF_OK;
}

/* Reads `count` rows from `first` into dst; fspace/mspace are scratch
 * dataspaces of the dataset and of `count` rows. */
static enum rf_rc read_slab(const struct rf_h5 *h, const char *name,
			    hid_t dset, hid_t fspace, hid_t mspace,
			    const struct rf_tensor_info *t, enum rf_dtype dt,
			    uint64_t first, uint64_t count, void *dst,
			    struct rf_err *e)
{
	hsize_t start[RF_TENSOR_MAX_RANK] = {0}, cnt[RF_TENSOR_MAX_RANK];

	for (unsigned i = 0; i < t->rank; i++)
		cnt[i] = t->shape[i];
	start[0] = first;
	cnt[0] = count;
	if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt,
				NULL) < 0 ||
	    H5Dread(dset, mem_type(dt), mspace, fspace, H5P_DEFAULT, dst) < 0)
		return fail_h5(e, RF_EPROTO, h, "cannot read rows of '%s'",
			       name);
	return RF_OK;
}

static hid_t rows_space(const struct rf_tensor_info *t, uint64_t count)
{
	hsize_t cnt[RF_TENSOR_MAX_RANK];

	for (unsigned i = 0; i < t->rank; i++)
		cnt[i] = t->shape[i];
	cnt[0] = count;
	return H5Screate_simple((int)t->rank, cnt, NULL);
}

enum rf_rc rf_h5_read_rows(struct rf_h5 *h, const char *name,
			   enum rf_dtype dt, uint64_t start, uint64_t count,
			   void *buf, size_t max_elems, struct rf_err *e)
{
	hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
	hid_t mspace = H5I_INVALID_HID;
	struct rf_tensor_info t;
	enum rf_rc rc;
	size_t n;

	if ((rc = check_handle(h, 0, e)))
		return rc;
	if ((rc = open_typed(h, name, dt, &dset, &t, NULL, e)))
		return rc;
	if (start > t.shape[0] || count > t.shape[0] - start) {
		rc = rf_err_set(e, RF_EINVAL, "rows [%llu, +%llu) are out of "
				"range for '%s' in '%s' (%llu rows)",
				(unsigned long long)start,
				(unsigned long long)count, name, h->path,
				(unsigned long long)t.shape[0]);
		goto out;
	}
	n = mul_sat(count, row_elems(&t));
	if (n > max_elems) {
		rc = too_big(h, name, n, max_elems, e);
		goto out;
	}
	if (n == 0)
		goto out;
	if (!buf) {
		rc = rf_err_set(e, RF_EINVAL, "no buffer to read '%s'", name);
		goto out;
	}
	fspace = H5Dget_space(dset);
	mspace = rows_space(&t, count);
	if (fspace < 0 || mspace < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read rows of '%s'",
			     name);
		goto out;
	}
	rc = read_slab(h, name, dset, fspace, mspace, &t, dt, start, count,
		       buf, e);
out:
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	H5Dclose(dset);
	return rc;
}

struct gather_ent {
	uint64_t row;
	size_t pos;
};

static int gather_cmp(const void *a, const void *b)
{
	const struct gather_ent *x = a, *y = b;

	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

enum rf_rc rf_h5_gather_rows(struct rf_h5 *h, const char *name,
			     enum rf_dtype dt, const uint64_t *idx, size_t n,
			     void *buf, size_t max_elems, struct rf_err *e)
{
	hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
	hid_t mspace = H5I_INVALID_HID;
	struct gather_ent *ents = NULL;
	struct rf_tensor_info t;
	size_t total, rbytes, i;
	uint64_t relems;
	enum rf_rc rc;

	if ((rc = check_handle(h, 0, e)))
		return rc;
	if (n && (!idx || !buf))
		return rf_err_set(e, RF_EINVAL, "no index list or buffer for "
				  "'%s'", name ? name : "(null)");
	if ((rc = open_typed(h, name, dt, &dset, &t, NULL, e)))
		return rc;
	for (i = 0; i < n; i++) {
		if (idx[i] >= t.shape[0]) {
			rc = rf_err_set(e, RF_EINVAL, "row %llu is out of "
					"range for '%s' in '%s' (%llu rows)",
					(unsigned long long)idx[i], name,
					h->path,
					(unsigned long long)t.shape[0]);
			goto out;
		}
	}
	relems = row_elems(&t);
	total = mul_sat(n, relems);
	if (total > max_elems) {
		rc = too_big(h, name, total, max_elems, e);
		goto out;
	}
	if (total == 0)
		goto out;
	rbytes = (size_t)relems * 4;
	ents = rf_mallocarray(n, sizeof *ents);
	if (!ents) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory reading '%s' in "
				"'%s'", name, h->path);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ents[i].row = idx[i];
		ents[i].pos = i;
	}
	qsort(ents, n, sizeof *ents, gather_cmp);
	fspace = H5Dget_space(dset);
	mspace = rows_space(&t, 1);
	if (fspace < 0 || mspace < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read rows of '%s'",
			     name);
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char *base = buf;
		unsigned char *dst = base + ents[i].pos * rbytes;

		if (i > 0 && ents[i].row == ents[i - 1].row) {
			memcpy(dst, base + ents[i - 1].pos * rbytes, rbytes);
			continue;
		}
		rc = read_slab(h, name, dset, fspace, mspace, &t, dt,
			       ents[i].row, 1, dst, e);
		if (rc)
			goto out;
	}
out:
	rf_free(ents);
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	H5Dclose(dset);
	return rc;
}

/* ---- attributes -------------------------------------------------------- */

/* Writes a scalar attribute, replacing any attribute of that name. */
static enum rf_rc attr_write(struct rf_h5 *h, const char *obj,
			     const char *attr, hid_t ftype, hid_t mtype,
			     const void *buf, struct rf_err *e)
{
	hid_t oid = H5I_INVALID_HID, space = H5I_INVALID_HID;
	hid_t aid = H5I_INVALID_HID;
	enum rf_rc rc;
	htri_t ex;

	if ((rc = open_obj(h, obj, &oid, e)))
		return rc;
	ex = H5Aexists(oid, attr);
	if (ex < 0 || (ex > 0 && H5Adelete(oid, attr) < 0)) {
		rc = fail_h5(e, RF_EIO, h, "cannot replace attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	space = H5Screate(H5S_SCALAR);
	if (space < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot write attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	aid = H5Acreate2(oid, attr, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
	if (aid < 0 || H5Awrite(aid, mtype, buf) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot write attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	rc = RF_OK;
out:
	if (aid >= 0)
		H5Aclose(aid);
	if (space >= 0)
		H5Sclose(space);
	H5Oclose(oid);
	return rc;
}

static enum rf_rc attr_set_string(struct rf_h5 *h, const char *obj,
				  const char *attr, const char *value,
				  int fixed, struct rf_err *e)
{
	hid_t t = H5I_INVALID_HID;
	enum rf_rc rc;
	size_t len;

	if ((rc = check_handle(h, 1, e)) || (rc = check_attr_name(h, attr, e)))
		return rc;
	if (!value)
		return rf_err_set(e, RF_EINVAL, "no value for attribute '%s'",
				  attr);
	len = strlen(value);
	if (!utf8_valid((const unsigned char *)value, len))
		return rf_err_set(e, RF_EINVAL, "value of attribute '%s' is "
				  "not UTF-8", attr);
	t = H5Tcopy(H5T_C_S1);
	if (t < 0 || H5Tset_size(t, fixed ? len + 1 : H5T_VARIABLE) < 0 ||
	    H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
	    H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
		rc = fail_h5(e, RF_EIO, h, "cannot make a string type for "
			     "'%s'", attr);
		goto out;
	}
	rc = attr_write(h, obj, attr, t, t, fixed ? (const void *)value :
			(const void *)&value, e);
out:
	if (t >= 0)
		H5Tclose(t);
	return rc;
}

enum rf_rc rf_h5_attr_set_str(struct rf_h5 *h, const char *obj,
			      const char *attr, const char *value,
			      struct rf_err *e)
{
	return attr_set_string(h, obj, attr, value, 0, e);
}

enum rf_rc rf_h5_attr_set_fixstr(struct rf_h5 *h, const char *obj,
				 const char *attr, const char *value,
				 struct rf_err *e)
{
	return attr_set_string(h, obj, attr, value, 1, e);
}

enum rf_rc rf_h5_attr_set_i64(struct rf_h5 *h, const char *obj,
			      const char *attr, int64_t value,
			      struct rf_err *e)
{
	enum rf_rc rc;

	if ((rc = check_handle(h, 1, e)) || (rc = check_attr_name(h, attr, e)))
		return rc;
	return attr_write(h, obj, attr, H5T_STD_I64LE, H5T_NATIVE_INT64,
			  &value, e);
}

enum rf_rc rf_h5_attr_set_f64(struct rf_h5 *h, const char *obj,
			      const char *attr, double value,
			      struct rf_err *e)
{
	enum rf_rc rc;

	if ((rc = check_handle(h, 1, e)) || (rc = check_attr_name(h, attr, e)))
		return rc;
	return attr_write(h, obj, attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
			  &value, e);
}

/* Opens attribute `attr` of `obj`, checks it holds one value and returns
 * its type. */
static enum rf_rc attr_open(struct rf_h5 *h, const char *obj,
			    const char *attr, hid_t *aid, hid_t *type,
			    struct rf_err *e)
{
	hid_t oid = H5I_INVALID_HID, space = H5I_INVALID_HID;
	enum rf_rc rc;
	hssize_t np;
	htri_t ex;

	*aid = *type = H5I_INVALID_HID;
	if ((rc = check_handle(h, 0, e)) || (rc = check_attr_name(h, attr, e)))
		return rc;
	if ((rc = open_obj(h, obj, &oid, e)))
		return rc;
	ex = H5Aexists(oid, attr);
	if (ex < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot look up attribute '%s' "
			     "of '%s'", attr, obj);
		goto out;
	}
	if (ex == 0) {
		rc = rf_err_set(e, RF_ENOTFOUND, "no attribute '%s' on '%s' in "
				"'%s'", attr, obj, h->path);
		goto out;
	}
	*aid = H5Aopen(oid, attr, H5P_DEFAULT);
	if (*aid < 0) {
		*aid = H5I_INVALID_HID;
		rc = fail_h5(e, RF_EPROTO, h, "cannot open attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	space = H5Aget_space(*aid);
	np = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
	if (np != 1) {
		rc = rf_err_set(e, RF_EPROTO, "attribute '%s' of '%s' in '%s' "
				"is not a single value", attr, obj, h->path);
		goto out;
	}
	*type = H5Aget_type(*aid);
	if (*type < 0) {
		*type = H5I_INVALID_HID;
		rc = fail_h5(e, RF_EPROTO, h, "cannot read the type of "
			     "attribute '%s' of '%s'", attr, obj);
		goto out;
	}
	rc = RF_OK;
out:
	if (space >= 0)
		H5Sclose(space);
	if (rc && *aid >= 0) {
		H5Aclose(*aid);
		*aid = H5I_INVALID_HID;
	}
	H5Oclose(oid);
	return rc;
}

static enum rf_rc attr_kind_err(const struct rf_h5 *h, const char *obj,
				const char *attr, hid_t type, const char *want,
				struct rf_err *e)
{
	char desc[48];

	dtype_of(type, desc, sizeof desc);
	return rf_err_set(e, RF_EPROTO, "attribute '%s' of '%s' in '%s' is "
			  "%s, expected %s", attr, obj, h->path, desc, want);
}

enum rf_rc rf_h5_attr_get_i64(struct rf_h5 *h, const char *obj,
			      const char *attr, int64_t *out,
			      struct rf_err *e)
{
	hid_t aid, type;
	enum rf_rc rc;
	uint64_t u;
	int64_t v;
	herr_t r;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for attribute");
	if ((rc = attr_open(h, obj, attr, &aid, &type, e)))
		return rc;
	if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) > 8) {
		rc = attr_kind_err(h, obj, attr, type, "an integer", e);
		goto out;
	}
	if (H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) == 8) {
		r = H5Aread(aid, H5T_NATIVE_UINT64, &u);
		if (r >= 0 && u > INT64_MAX) {
			rc = rf_err_set(e, RF_EPROTO, "attribute '%s' of '%s' "
					"in '%s' does not fit in int64", attr,
					obj, h->path);
			goto out;
		}
		v = (int64_t)u;
	} else {
		r = H5Aread(aid, H5T_NATIVE_INT64, &v);
	}
	if (r < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	*out = v;
out:
	H5Tclose(type);
	H5Aclose(aid);
	return rc;
}

enum rf_rc rf_h5_attr_get_f64(struct rf_h5 *h, const char *obj,
			      const char *attr, double *out, struct rf_err *e)
{
	hid_t aid, type;
	enum rf_rc rc;
	double v;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for attribute");
	if ((rc = attr_open(h, obj, attr, &aid, &type, e)))
		return rc;
	if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) > 8) {
		rc = attr_kind_err(h, obj, attr, type, "a float", e);
		goto out;
	}
	if (H5Aread(aid, H5T_NATIVE_DOUBLE, &v) < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	*out = v;
out:
	H5Tclose(type);
	H5Aclose(aid);
	return rc;
}

enum rf_rc rf_h5_attr_get_str(struct rf_h5 *h, const char *obj,
			      const char *attr, size_t max_len, char **out,
			      struct rf_err *e)
{
	hid_t aid, type, mt = H5I_INVALID_HID;
	char *vs = NULL, *s = NULL;
	enum rf_rc rc;
	size_t size, len;
	htri_t var;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for attribute");
	*out = NULL;
	if ((rc = attr_open(h, obj, attr, &aid, &type, e)))
		return rc;
	var = H5Tis_variable_str(type);
	if (H5Tget_class(type) != H5T_STRING || var < 0) {
		rc = attr_kind_err(h, obj, attr, type, "a string", e);
		goto out;
	}
	size = H5Tget_size(type);
	mt = H5Tcopy(H5T_C_S1);
	if (mt < 0 || H5Tset_cset(mt, H5Tget_cset(type)) < 0 ||
	    H5Tset_size(mt, var ? H5T_VARIABLE : size + 1) < 0 ||
	    H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0) {
		rc = fail_h5(e, RF_EPROTO, h, "cannot read attribute '%s' of "
			     "'%s'", attr, obj);
		goto out;
	}
	if (var) {
		/* HDF5 allocates the string itself, with its own malloc */
		if (H5Aread(aid, mt, &vs) < 0) {
			vs = NULL;
			rc = fail_h5(e, RF_EPROTO, h, "cannot read attribute "
				     "'%s' of '%s'", attr, obj);
			goto out;
		}
		len = vs ? strlen(vs) : 0;
	} else {
		if (size == 0 || size - 1 > max_len) {
			len = size;
			goto toobig;
		}
		s = rf_malloc(size + 1);
		if (!s) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory reading "
					"attribute '%s'", attr);
			goto out;
		}
		if (H5Aread(aid, mt, s) < 0) {
			rc = fail_h5(e, RF_EPROTO, h, "cannot read attribute "
				     "'%s' of '%s'", attr, obj);
			goto out;
		}
		s[size] = '\0';
		len = strlen(s);
	}
	if (len > max_len)
		goto toobig;
	if (var) {
		s = rf_strndup(vs ? vs : "", len);
		if (!s) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory reading "
					"attribute '%s'", attr);
			goto out;
		}
	}
	if (!utf8_valid((const unsigned char *)s, len)) {
		rc = rf_err_set(e, RF_EPROTO, "attribute '%s' of '%s' in '%s' "
				"is not UTF-8", attr, obj, h->path);
		goto out;
	}
	*out = s;
	s = NULL;
	rc = RF_OK;
	goto out;
toobig:
	rc = rf_err_set(e, RF_ETOOBIG, "attribute '%s' of '%s' in '%s' is "
			"%zu bytes long, limit %zu", attr, obj, h->path, len,
			max_len);
out:
	if (vs)
		H5free_memory(vs);
	rf_free(s);
	if (mt >= 0)
		H5Tclose(mt);
	H5Tclose(type);
	H5Aclose(aid);
	return rc;
}

/* ---- listing ----------------------------------------------------------- */

struct list_state {
	struct rf_h5 *h;
	rf_h5_list_fn fn;
	void *ctx;
	struct rf_err *e;
	haddr_t *seen;  /* addresses of visited groups */
	size_t nseen, capseen;
	char path[RF_H5_NAME_MAX];
};

struct name_list {
	char **v;
	size_t n, cap;
	int nomem;
};

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *li,
			 void *op)
{
	struct name_list *nl = op;
	char *copy;

	(void)g;
	if (li->type != H5L_TYPE_HARD)
		return 0; /* soft and external links are not followed */
	if (nl->n == nl->cap) {
		size_t ncap = nl->cap ? nl->cap * 2 : 16;
		char **nv = rf_realloc(nl->v, ncap * sizeof *nv);

		if (!nv) {
			nl->nomem = 1;
			return -1;
		}
		nl->v = nv;
		nl->cap = ncap;
	}
	copy = rf_strdup(name);
	if (!copy) {
		nl->nomem = 1;
		return -1;
	}
	nl->v[nl->n++] = copy;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Records a group's address; *fresh is 0 when it was already seen. The
 * addresses are kept sorted. */
static enum rf_rc mark_seen(struct list_state *s, haddr_t addr, int *fresh)
{
	size_t lo = 0, hi = s->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->seen[mid] == addr) {
			*fresh = 0;
			return RF_OK;
		}
		if (s->seen[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nseen >= LIST_MAX_GROUPS)
		return rf_err_set(s->e, RF_EPROTO, "'%s' has more than %d "
				  "groups", s->h->path, LIST_MAX_GROUPS);
	if (s->nseen == s->capseen) {
		size_t ncap = s->capseen ? s->capseen * 2 : 16;
		haddr_t *nv = rf_realloc(s->seen, ncap * sizeof *nv);

		if (!nv)
			return rf_err_set(s->e, RF_ENOMEM, "out of memory "
					  "listing '%s'", s->h->path);
		s->seen = nv;
		s->capseen = ncap;
	}
	memmove(s->seen + lo + 1, s->seen + lo,
		(s->nseen - lo) * sizeof *s->seen);
	s->seen[lo] = addr;
	s->nseen++;
	*fresh = 1;
	return RF_OK;
}

/* Visits the group whose path (length plen) is in s->path. */
static enum rf_rc list_group(struct list_state *s, size_t plen)
{
	struct name_list nl = {NULL, 0, 0, 0};
	struct rf_tensor_info ti;
	char desc[48];
	enum rf_rc rc = RF_OK;
	hid_t gid;
	size_t i;

	gid = H5Gopen2(s->h->fid, s->path, H5P_DEFAULT);
	if (gid < 0)
		return fail_h5(s->e, RF_EPROTO, s->h, "cannot open group '%s'",
			       s->path);
	if (H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_cb,
		       &nl) < 0) {
		if (nl.nomem)
			rc = rf_err_set(s->e, RF_ENOMEM, "out of memory "
					"listing '%s'", s->h->path);
		else
			rc = fail_h5(s->e, RF_EPROTO, s->h, "cannot list "
				     "group '%s'", s->path);
	}
	H5Gclose(gid);
	if (rc)
		goto out;
	if (nl.n > 1)
		qsort(nl.v, nl.n, sizeof *nl.v, name_cmp);
	for (i = 0; i < nl.n && !rc; i++) {
		size_t nlen = strlen(nl.v[i]);
		size_t base = plen == 1 ? 1 : plen + 1;
		H5O_info_t oi;
		hid_t dset;
		int fresh;

		if (base + nlen >= sizeof s->path) {
			rc = rf_err_set(s->e, RF_EPROTO, "object path under "
					"'%s' in '%s' is too long", s->path,
					s->h->path);
			break;
		}
		if (plen > 1)
			s->path[plen] = '/';
		memcpy(s->path + base, nl.v[i], nlen + 1);
		if (H5Oget_info_by_name2(s->h->fid, s->path, &oi,
					 H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
			rc = fail_h5(s->e, RF_EPROTO, s->h, "cannot inspect "
				     "'%s'", s->path);
		} else if (oi.type == H5O_TYPE_GROUP) {
			rc = mark_seen(s, oi.addr, &fresh);
			if (!rc && fresh)
				rc = list_group(s, base + nlen);
		} else if (oi.type == H5O_TYPE_DATASET) {
			dset = H5Dopen2(s->h->fid, s->path, H5P_DEFAULT);
			if (dset < 0) {
				rc = fail_h5(s->e, RF_EPROTO, s->h, "cannot "
					     "open dataset '%s'", s->path);
				break;
			}
			rc = dset_info(s->h, s->path, dset, 1, &ti, NULL,
				       desc, sizeof desc, s->e);
			H5Dclose(dset);
			if (!rc)
				rc = s->fn(s->ctx, s->path, &ti, s->e);
		}
		s->path[plen] = '\0';
	}
out:
	for (i = 0; i < nl.n; i++)
		rf_free(nl.v[i]);
	rf_free(nl.v);
	return rc;
}

enum rf_rc rf_h5_list(struct rf_h5 *h, const char *group, rf_h5_list_fn fn,
		      void *ctx, struct rf_err *e)
{
	struct list_state *s;
	H5O_info_t oi;
	enum rf_rc rc;
	int fresh;

	if ((rc = check_handle(h, 0, e)) ||
	    (rc = check_name(h, group, 1, e)))
		return rc;
	if (!fn)
		return rf_err_set(e, RF_EINVAL, "no callback to list '%s'",
				  h->path);
	if ((rc = path_exists(h, group, e)))
		return rc;
	if (H5Oget_info_by_name2(h->fid, group, &oi, H5O_INFO_BASIC,
				 H5P_DEFAULT) < 0)
		return fail_h5(e, RF_EPROTO, h, "cannot inspect '%s'", group);
	if (oi.type != H5O_TYPE_GROUP)
		return rf_err_set(e, RF_EPROTO, "'%s' in '%s' is not a group",
				  group, h->path);
	s = rf_calloc(1, sizeof *s);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory listing '%s'",
				  h->path);
	s->h = h;
	s->fn = fn;
	s->ctx = ctx;
	s->e = e;
	memcpy(s->path, group, strlen(group) + 1);
	rc = mark_seen(s, oi.addr, &fresh);
	if (!rc)
		rc = list_group(s, strlen(group));
	rf_free(s->seen);
	rf_free(s);
	return rc;
}
