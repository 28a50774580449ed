// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state directory: trusted open, atomic replace, lock (see statestore.h).
 * Never prints: problems go to the diag sink.
 */
#include "statestore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "util.h"

#define LOCK_POLL_NS (100 * 1000 * 1000L)

/* An error unless quiet; returns -err (err > 0). */
static int __printf(5, 6) fault(struct diag *d, unsigned flags, enum diag_class cls, int err,
				const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (flags & STATESTORE_QUIET)
		return -err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_err(d, cls, NULL, 0, "%s", msg);
	return -err;
}

/*
 * One directory on the way (final: the state dir or a directory below it).
 * A reader is warned instead of refused for ownership and mode.
 */
static int check(int fd, const char *display, const char *state, bool final, unsigned flags,
		 struct diag *d)
{
	uid_t me = geteuid();
	struct stat st;
	const char *why = NULL;
	char what[PATH_MAX + 64];

	if (fstat(fd, &st) < 0) {
		int e = errno;

		if (!(flags & STATESTORE_QUIET))
			diag_err(d, DIAG_INTERNAL, NULL, e, "cannot stat '%s'", display);
		return -e;
	}
	if (final)
		snprintf(what, sizeof(what), "state dir '%s'", display);
	else
		snprintf(what, sizeof(what), "'%s' (on the way to state dir '%s')", display, state);
	if (!S_ISDIR(st.st_mode))
		return fault(d, flags, DIAG_CONFIG, ENOTDIR, "%s is not a directory", what);
	if (final && st.st_uid != me)
		why = "is owned by another user";
	else if (!final && st.st_uid != 0 && st.st_uid != me)
		why = "is owned by a user other than root";
	else if ((st.st_mode & 022) && (final || !(st.st_mode & S_ISVTX)))
		why = final ? "is writable by group or others" : "is writable by group or others and not sticky";
	if (!why)
		return 0;
	if (flags & STATESTORE_READONLY) {
		if (!(flags & STATESTORE_QUIET))
			diag_warn(d, NULL, "%s %s (uid %u, mode %04o): its records may have been altered",
				  what, why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return 0;
	}
	return fault(d, flags, DIAG_CONFIG, EPERM,
		     "%s %s (uid %u, mode %04o): refusing to use it; %s", what, why,
		     (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		     final ? "it must be owned by the running user (root) with mode 0700"
			   : "every directory above the state dir must be owned by root and not "
			     "writable by others (unless sticky, like /tmp)");
}

int statestore_check_dir(int fd, const char *display, unsigned flags, struct diag *d)
{
	return check(fd, display, display, true, flags, d);
}

/* Append "/comp" to the display path (truncated silently: display only). */
static void walked_add(char *walked, size_t len, const char *comp)
{
	size_t n = strlen(walked);

	if (n == 1 && walked[0] == '/')
		n = 0;
	snprintf(walked + n, len - n, "/%s", comp);
}

/* statestore_open()'s walk down the path, one component at a time. */
struct walk {
	const char *path;	/* as the caller named it: for messages */
	unsigned flags;
	struct diag *d;
	char *rest;		/* the absolute path to walk (links spliced in), malloc'ed */
	size_t pos;		/* where the next component starts in rest */
	int cur;		/* the directory reached so far */
	int links;		/* symbolic links followed */
	char walked[PATH_MAX];	/* the path walked as written: for messages */
};

/* w->rest: w->path, made absolute against the working directory. Returns 0 or -errno. */
static int walk_start(struct walk *w)
{
	if (w->path[0] == '/') {
		w->rest = strdup(w->path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return fault(w->d, w->flags, DIAG_INTERNAL, errno ? errno : ENAMETOOLONG,
				     "cannot resolve state dir '%s': no working directory", w->path);
		if (asprintf(&w->rest, "%s/%s", cwd, w->path) < 0)
			w->rest = NULL;
	}
	if (!w->rest)
		return fault(w->d, w->flags, DIAG_INTERNAL, ENOMEM, "state dir '%s': out of memory",
			     w->path);
	return 0;
}

/* The next component into *comp (NUL-terminated in place), *last when none follows; false at the end. */
static bool walk_next(struct walk *w, char **comp, bool *last)
{
	char *next;

	while (w->rest[w->pos] == '/')
		w->pos++;
	if (!w->rest[w->pos])
		return false;
	*comp = w->rest + w->pos;
	next = strchr(*comp, '/');
	if (next) {
		*next = '\0';
		w->pos = (size_t)(next - w->rest) + 1;
	} else {
		w->pos = strlen(w->rest);
	}
	*last = !w->rest[w->pos + strspn(w->rest + w->pos, "/")];
	return true;
}

/*
 * Open comp below w->cur into *fd (-errno when it cannot be), creating it
 * first with STATESTORE_CREATE. Returns 0, or -errno when creating failed.
 */
static int walk_open(struct walk *w, const char *comp, int *fd)
{
	*fd = openat(w->cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0 && errno == ENOENT && (w->flags & STATESTORE_CREATE)) {
		if (mkdirat(w->cur, comp, 0700) < 0 && errno != EEXIST) {
			walked_add(w->walked, sizeof(w->walked), comp);
			return fault(w->d, w->flags, errno == EACCES ? DIAG_CONFIG : DIAG_INTERNAL, errno,
				     "cannot create '%s' (state dir '%s'): %s", w->walked, w->path,
				     strerror(errno));
		}
		*fd = openat(w->cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (*fd < 0)
		*fd = -errno;
	return 0;
}

/* Refuse comp (not a directory, not followed): a symbolic link others could have put there. */
static int walk_link_check(struct walk *w, const char *comp, bool last, struct stat *lst)
{
	struct stat dst;

	if (fstatat(w->cur, comp, lst, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(lst->st_mode)) {
		if (last)
			return fault(w->d, w->flags, DIAG_CONFIG, ENOTDIR,
				     "state dir '%s' is not a directory", w->path);
		return fault(w->d, w->flags, DIAG_CONFIG, ENOTDIR,
			     "'%s' (on the way to state dir '%s') is not a directory", w->walked, w->path);
	}
	if (last)
		return fault(w->d, w->flags, DIAG_CONFIG, ELOOP,
			     "state dir '%s' is a symbolic link: refusing to use it; "
			     "name the directory itself", w->path);
	/* a link only root (or we) could have put there, or that is root's (or ours) */
	if (++w->links > STATESTORE_MAX_LINKS)
		return fault(w->d, w->flags, DIAG_CONFIG, ELOOP,
			     "state dir '%s': too many symbolic links on the way", w->path);
	if (fstat(w->cur, &dst) < 0 ||
	    ((dst.st_mode & 022) && lst->st_uid != 0 && lst->st_uid != geteuid()))
		return fault(w->d, w->flags, DIAG_CONFIG, EPERM,
			     "'%s' (on the way to state dir '%s') is a symbolic link owned by "
			     "uid %u in a directory others can write: refusing to follow it",
			     w->walked, w->path, (unsigned)lst->st_uid);
	return 0;
}

/* comp is a symbolic link (or no directory): splice its target into the walk. Returns 0 or -errno. */
static int walk_link(struct walk *w, const char *comp, bool last)
{
	char target[PATH_MAX], *nrest;
	struct stat lst;
	ssize_t n;
	int rc;

	walked_add(w->walked, sizeof(w->walked), comp);
	rc = walk_link_check(w, comp, last, &lst);
	if (rc)
		return rc;
	n = readlinkat(w->cur, comp, target, sizeof(target) - 1);
	if (n <= 0)
		return fault(w->d, w->flags, DIAG_INTERNAL, n < 0 ? errno : EINVAL,
			     "cannot read link '%s'", w->walked);
	target[n] = '\0';
	if (asprintf(&nrest, "%s/%s", target, w->rest + w->pos) < 0)
		return fault(w->d, w->flags, DIAG_INTERNAL, ENOMEM, "state dir '%s'", w->path);
	free(w->rest);
	w->rest = nrest;
	w->pos = 0;
	/* the walked path stays as written: messages name the link's directory */
	if (target[0] == '/') {
		close(w->cur);
		w->cur = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->cur < 0)
			return fault(w->d, w->flags, DIAG_INTERNAL, errno, "cannot open '/'");
		snprintf(w->walked, sizeof(w->walked), "/");
	} else {
		/* relative to the link's directory: drop the link's name again */
		char *slash = strrchr(w->walked, '/');

		if (slash && slash != w->walked)
			*slash = '\0';
		else
			snprintf(w->walked, sizeof(w->walked), "/");
	}
	return 0;
}

/* Step into comp, opened as fd (-errno: it could not be), checked unless last. Returns 0 or -errno. */
static int walk_enter(struct walk *w, const char *comp, int fd, bool last)
{
	walked_add(w->walked, sizeof(w->walked), comp);
	if (fd < 0) {
		int e = -fd;

		if (e == ENOENT && (w->flags & STATESTORE_READONLY))
			return -ENOENT;
		return fault(w->d, w->flags, e == EACCES || e == ENOENT ? DIAG_CONFIG : DIAG_INTERNAL, e,
			     "cannot open '%s' (state dir '%s'): %s", w->walked, w->path, strerror(e));
	}
	close(w->cur);
	w->cur = fd;
	if (!last)
		return check(w->cur, w->walked, w->path, false, w->flags, w->d);
	return 0;
}

/* Walk w->path from "/", checking every directory on the way; w->cur is the state dir. Returns 0 or -errno. */
static int walk(struct walk *w)
{
	char *comp;
	bool last;
	int fd, rc;

	w->cur = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->cur < 0)
		return fault(w->d, w->flags, DIAG_INTERNAL, errno, "cannot open '/'");
	rc = check(w->cur, "/", w->path, false, w->flags, w->d);
	if (rc)
		return rc;
	while (walk_next(w, &comp, &last)) {
		if (!strcmp(comp, "."))
			continue;
		rc = walk_open(w, comp, &fd);
		if (rc)
			return rc;
		if (fd == -ELOOP || fd == -ENOTDIR)
			rc = walk_link(w, comp, last);
		else
			rc = walk_enter(w, comp, fd, last);
		if (rc)
			return rc;
	}
	/* the whole path walked: cur is the state dir ("/" alone checks "/") */
	return check(w->cur, w->path, w->path, true, w->flags, w->d);
}

int statestore_id(int sfd, bool create, char out[STATESTORE_ID_LEN + 1], bool *created);

int statestore_open(const char *path, unsigned flags, struct diag *d)
{
	struct walk w = { .path = path, .flags = flags, .d = d, .cur = -1, .walked = "/" };
	char id[STATESTORE_ID_LEN + 1];
	int rc;

	if (!path || !*path) {
		if (!(flags & STATESTORE_QUIET))
			diag_err(d, DIAG_USAGE, NULL, 0, "the state dir must not be empty");
		return -EINVAL;
	}
	rc = walk_start(&w);
	if (rc)
		return rc;
	rc = walk(&w);
	free(w.rest);
	if (rc) {
		if (w.cur >= 0)
			close(w.cur);
		return rc;
	}
	/*
	 * Its id, when it has one, is the marker of the tables this run creates
	 * (statestore_owner()), even when the journal below cannot be used.
	 */
	statestore_id(w.cur, false, id, NULL);
	return w.cur;
}

int statestore_subdir(int dirfd, const char *name, const char *display, unsigned flags,
		      struct diag *d)
{
	int fd, rc;

	if ((flags & STATESTORE_CREATE) && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return fault(d, flags, DIAG_INTERNAL, errno, "cannot create '%s': %s", display,
			     strerror(errno));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat lst;

		if (e == ENOENT && !(flags & STATESTORE_CREATE) && (flags & STATESTORE_READONLY))
			return -ENOENT;
		if ((e == ELOOP || e == ENOTDIR) &&
		    fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
			return fault(d, flags, DIAG_CONFIG, ELOOP,
				     "'%s' is a symbolic link: refusing to use it", display);
		if (e == ENOTDIR)
			return fault(d, flags, DIAG_CONFIG, ENOTDIR, "'%s' is not a directory", display);
		return fault(d, flags, e == EACCES ? DIAG_CONFIG : DIAG_INTERNAL, e,
			     "cannot open '%s': %s", display, strerror(e));
	}
	rc = check(fd, display, display, true, flags, d);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int statestore_replace(int dirfd, const char *name, const void *buf, size_t len, unsigned flags)
{
	static unsigned long seq;
	char tmp[NAME_MAX + 1];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), STATESTORE_TMP_PREFIX "%s.%ld.%lu", name,
			     (long)getpid(), seq++) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* a crashed run's leftover of the same name: it is ours to remove (the dir is trusted) */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, buf, len);
	if (!rc && (flags & STATESTORE_SYNC) && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	if ((flags & STATESTORE_SYNC_DIR) && fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int statestore_lock(int dirfd, const char *name, int wait_seconds, int *held_fd)
{
	struct timespec start, now;
	int fd;

	if (held_fd)
		*held_fd = -1;
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int e;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		e = errno;
		if (e == EINTR)
			continue;
		if (e != EWOULDBLOCK) {
			close(fd);
			return -e;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (wait_seconds >= 0 &&
		    (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) >=
			    (long long)wait_seconds * 1000000000LL) {
			if (held_fd)
				*held_fd = fd;
			else
				close(fd);
			return -EWOULDBLOCK;
		}
		nanosleep(&(struct timespec){ 0, LOCK_POLL_NS }, NULL);
	}
}

int statestore_read(int dirfd, const char *name, size_t max, char **bufp, size_t *lenp)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*bufp = buf;
	if (lenp)
		*lenp = got;
	return 0;
}

static char owner[sizeof(STATESTORE_MARKER) + 1 + STATESTORE_ID_LEN] = STATESTORE_MARKER;

const char *statestore_owner(void)
{
	return owner;
}

static bool id_valid(const char *s, size_t len)
{
	if (len != STATESTORE_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int statestore_id(int sfd, bool create, char out[STATESTORE_ID_LEN + 1], bool *created)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char rnd[STATESTORE_ID_LEN / 2];
	char text[STATESTORE_ID_LEN + 2];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (created)
		*created = false;
	rc = statestore_read(sfd, STATESTORE_ID_FILE, 256, &buf, &len);
	if (!rc) {
		while (len && buf[len - 1] == '\n')
			len--;
		if (!id_valid(buf, len)) {
			free(buf);
			return -EBADMSG;
		}
		memcpy(out, buf, STATESTORE_ID_LEN);
		out[STATESTORE_ID_LEN] = '\0';
		free(buf);
		goto remember;
	}
	if (rc != -ENOENT || !create)
		return rc;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		text[2 * i] = digits[rnd[i] >> 4];
		text[2 * i + 1] = digits[rnd[i] & 15];
	}
	text[STATESTORE_ID_LEN] = '\n';
	text[STATESTORE_ID_LEN + 1] = '\0';
	rc = statestore_replace(sfd, STATESTORE_ID_FILE, text, STATESTORE_ID_LEN + 1,
				STATESTORE_SYNC | STATESTORE_SYNC_DIR);
	if (rc)
		return rc;
	memcpy(out, text, STATESTORE_ID_LEN);
	out[STATESTORE_ID_LEN] = '\0';
	if (created)
		*created = true;
remember:
	snprintf(owner, sizeof(owner), STATESTORE_MARKER ":%s", out);
	return 0;
}

#define TABLES_MAX (1u << 20)

static bool tables_has(const char *buf, const char *table)
{
	size_t tl = strlen(table);

	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == tl && !memcmp(p, table, tl))
			return true;
		p += n + (nl ? 1 : 0);
	}
	return false;
}

int statestore_table_created(int sfd, const char *table)
{
	char *buf = NULL;
	int rc = statestore_read(sfd, STATESTORE_TABLES_FILE, TABLES_MAX, &buf, NULL);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = tables_has(buf, table);
	free(buf);
	return rc;
}

int statestore_table_add(int sfd, const char *table)
{
	char *buf = NULL, *nbuf;
	size_t len = 0;
	int rc;

	if (!*table || strchr(table, '\n'))
		return -EINVAL;
	rc = statestore_read(sfd, STATESTORE_TABLES_FILE, TABLES_MAX, &buf, &len);
	if (rc == -ENOENT) {
		buf = strdup("");
		rc = buf ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	if (tables_has(buf, table)) {
		free(buf);
		return 0;
	}
	if (asprintf(&nbuf, "%s%s%s\n", buf, len && buf[len - 1] != '\n' ? "\n" : "", table) < 0) {
		free(buf);
		return -ENOMEM;
	}
	free(buf);
	rc = statestore_replace(sfd, STATESTORE_TABLES_FILE, nbuf, strlen(nbuf),
				STATESTORE_SYNC | STATESTORE_SYNC_DIR);
	free(nbuf);
	return rc;
}
