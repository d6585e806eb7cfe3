/* rf_file.c - atomic writes, capped reads, mkdir -p. */
#include "rf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rf_alloc.h"


static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory of a renamed file, so the rename survives a crash.
 * dir is a scratch copy of the file's path, cut at dir_len. Best effort:
 * some filesystems refuse to open or sync directories. */
static void sync_parent(char *dir, size_t dir_len)
{
	int fd;

	if (dir_len == 0) {
		dir[0] = '.';
		dir_len = 1;
	}
	dir[dir_len] = '\0';
	fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

enum rf_rc rf_dir_sync(const char *dir, struct rf_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ?
			       rf_err_set(e, RF_EIO, "cannot sync '%s': %s",
					  dir, strerror(errno)) :
			       RF_OK;
	if (fsync(fd) != 0 && errno != EINVAL && errno != EBADF &&
	    errno != EROFS) {
		int err = errno;

		close(fd);
		return rf_err_set(e, RF_EIO, "cannot sync '%s': %s", dir,
				  strerror(err));
	}
	close(fd);
	return RF_OK;
}

enum rf_rc rf_file_write_atomic(const char *path, const void *p, size_t n,
				unsigned mode, struct rf_err *e)
{
	return rf_file_write_atomic_flags(path, p, n, mode, 0, e);
}

enum rf_rc rf_file_write_atomic_flags(const char *path, const void *p,
				      size_t n, unsigned mode, unsigned flags,
				      struct rf_err *e)
{
	static const char suffix[] = ".tmp.XXXXXX";
	size_t plen = strlen(path);
	const char *slash = strrchr(path, '/');
	char *tmp;
	int fd = -1, created = 0;
	enum rf_rc rc;

	if (flags & ~(unsigned)RF_FILE_NO_DIR_SYNC)
		return rf_err_set(e, RF_EINVAL, "cannot write '%s': unknown "
				  "flags 0x%x", path, flags);
	tmp = rf_malloc(plen + sizeof suffix);
	if (!tmp)
		return rf_err_set(e, RF_ENOMEM, "out of memory writing '%s'",
				  path);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof suffix);
	fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
	if (fd < 0) {
		rc = rf_err_set(e, RF_EIO, "cannot write '%s': %s", path,
				strerror(errno));
		goto out;
	}
	created = 1;
	if ((mode != 0600 && fchmod(fd, (mode_t)mode) != 0) ||
	    write_all(fd, p, n) != 0 || fsync(fd) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot write '%s': %s", path,
				strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = rf_err_set(e, RF_EIO, "cannot write '%s': %s", path,
				strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot rename '%s' to '%s': %s",
				tmp, path, strerror(errno));
		goto out;
	}
	created = 0;
	if (!(flags & RF_FILE_NO_DIR_SYNC))
		sync_parent(tmp, slash ? (size_t)(slash - path) +
						 (slash == path) : 0);
	rc = RF_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	rf_free(tmp);
	return rc;
}

enum rf_rc rf_file_read(const char *path, struct rf_buf *out, struct rf_err *e)
{
	struct stat st;
	size_t room;
	enum rf_rc rc;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rf_err_set(e, RF_EIO, "cannot open '%s': %s", path,
				  strerror(errno));
	errno = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s", path,
				errno ? strerror(errno) : "not a file");
		goto out;
	}
	/* read straight into the buffer, sized once from the file; one more
	 * byte of room shows whether the file grew meanwhile */
	rc = rf_buf_reserve(out, (size_t)st.st_size + 1 <= out->max - out->len
					 ? (size_t)st.st_size + 1
					 : (size_t)st.st_size,
			    e);
	for (;;) {
		ssize_t r;

		if (rc) {
			rf_err_prefix(e, "cannot read '%s'", path);
			goto out;
		}
		room = out->cap - out->len;
		if (room == 0) {
			/* full: at the end of the file, or is there more? */
			uint8_t probe;

			r = read(fd, &probe, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				break;
			if (r > 0)
				rc = rf_buf_append(out, &probe, 1, e);
			else
				rc = rf_err_set(e, RF_EIO,
						"cannot read '%s': %s", path,
						strerror(errno));
			continue;
		}
		r = read(fd, out->data + out->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s", path,
					strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	out->data[out->len] = 0;
	rc = RF_OK;
out:
	close(fd);
	return rc;
}

enum rf_rc rf_mkdirs(const char *path, unsigned mode, struct rf_err *e)
{
	struct stat st;
	enum rf_rc rc = RF_OK;
	size_t n = strlen(path), i;
	char *p;

	if (n == 0)
		return rf_err_set(e, RF_EINVAL, "empty directory name");
	p = rf_strdup(path);
	if (!p)
		return rf_err_set(e, RF_ENOMEM, "out of memory creating '%s'",
				  path);
	/* each prefix ending before a '/', then the whole path */
	for (i = 1; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
			rc = rf_err_set(e, RF_EIO, "cannot create '%s': %s", p,
					strerror(errno));
			break;
		}
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rc = rf_err_set(e, RF_EEXIST,
					"cannot create '%s': not a directory",
					p);
			break;
		}
		if (i < n)
			p[i] = '/';
	}
	rf_free(p);
	return rc;
}

enum rf_rc rf_path_join(char *out, size_t size, const char *dir,
			const char *name, struct rf_err *e)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		if (size)
			out[0] = '\0';
		return rf_err_set(e, RF_ETOOBIG, "path '%s/%s' is too long",
				  dir, name);
	}
	return RF_OK;
}
