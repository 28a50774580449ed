// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the state directory store: the trusted walk from "/"
 * (links, owners, modes, sticky parents), creation modes, atomic replace and
 * the lock. Everything happens in a temp dir under /tmp; the ownership cases
 * need root (chown) and are skipped without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "diag.h"
#include "statestore.h"

struct fx {
	char tmp[64];
	struct diag d;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/pl-statestore-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	diag_init(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	diag_fini(&f->d);
	free(f);
	return 0;
}

static bool diag_has(const struct diag *d, enum diag_level lvl, const char *needle)
{
	for (size_t i = 0; i < d->nrecs; i++)
		if (d->recs[i].lvl == lvl && d->recs[i].msg && strstr(d->recs[i].msg, needle))
			return true;
	return false;
}

static void reset(struct fx *f)
{
	diag_fini(&f->d);
	diag_init(&f->d);
}

static char *P(struct fx *f, const char *rel)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ & 3];

	snprintf(b, sizeof(buf[0]), "%s/%s", f->tmp, rel);
	return b;
}

static void test_create_and_reopen(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd;

	/* missing: an error for writers without CREATE, silent -ENOENT for readers */
	assert_int_equal(statestore_open(P(f, "a/b/state"), 0, &f->d), -ENOENT);
	assert_true(diag_failed(&f->d));
	reset(f);
	assert_int_equal(statestore_open(P(f, "a/b/state"), STATESTORE_READONLY, &f->d), -ENOENT);
	assert_int_equal(f->d.nrecs, 0);
	fd = statestore_open(P(f, "a/b/state"), STATESTORE_CREATE, &f->d);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	close(fd);
	assert_int_equal(stat(P(f, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* a trailing slash, "." and a relative path name the same directory */
	fd = statestore_open(P(f, "a/./b/state/"), 0, &f->d);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chdir(f->tmp), 0);
	fd = statestore_open("a/b/state", 0, &f->d);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chdir("/"), 0);
	assert_false(diag_failed(&f->d));
	/* a subdirectory */
	fd = statestore_open(P(f, "a/b/state"), 0, &f->d);
	{
		int sub = statestore_subdir(fd, "journal", "journal", STATESTORE_CREATE, &f->d);

		assert_true(sub >= 0);
		assert_int_equal(fstat(sub, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		close(sub);
		assert_int_equal(symlinkat("/etc", fd, "evil"), 0);
		assert_int_equal(statestore_subdir(fd, "evil", "state/evil", STATESTORE_CREATE, &f->d),
				 -ELOOP);
		assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is a symbolic link"));
	}
	close(fd);
}

static void test_symlinks(void **state)
{
	struct fx *f = *state;
	int fd;

	assert_int_equal(mkdir(P(f, "real"), 0700), 0);
	assert_int_equal(symlink(P(f, "real"), P(f, "link")), 0);
	/* the state dir itself a link: refused for writers and readers */
	assert_int_equal(statestore_open(P(f, "link"), STATESTORE_CREATE, &f->d), -ELOOP);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is a symbolic link: refusing to use it"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
	reset(f);
	assert_int_equal(statestore_open(P(f, "link"), STATESTORE_READONLY, &f->d), -ELOOP);
	reset(f);
	/* a link on the way, in a directory only we can write: followed (absolute and relative) */
	fd = statestore_open(P(f, "link/state"), STATESTORE_CREATE, &f->d);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access(P(f, "real/state"), F_OK), 0);
	assert_int_equal(symlink("real", P(f, "rel")), 0);
	fd = statestore_open(P(f, "rel/state"), 0, &f->d);
	assert_true(fd >= 0);
	close(fd);
	/* a loop */
	assert_int_equal(symlink("loop2", P(f, "loop1")), 0);
	assert_int_equal(symlink("loop1", P(f, "loop2")), 0);
	assert_int_equal(statestore_open(P(f, "loop1/state"), 0, &f->d), -ELOOP);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "too many symbolic links"));
	reset(f);
	/* a file */
	close(open(P(f, "file"), O_WRONLY | O_CREAT, 0600));
	assert_int_equal(statestore_open(P(f, "file"), STATESTORE_CREATE, &f->d), -ENOTDIR);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "/file' is not a directory"));
	reset(f);
	assert_int_equal(statestore_open(P(f, "file/state"), STATESTORE_CREATE, &f->d), -ENOTDIR);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is not a directory"));
}

static void test_modes(void **state)
{
	struct fx *f = *state;
	int fd;

	assert_int_equal(mkdir(P(f, "st"), 0700), 0);
	assert_int_equal(chmod(P(f, "st"), 0707), 0);
	assert_int_equal(statestore_open(P(f, "st"), STATESTORE_CREATE, &f->d), -EPERM);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is writable by group or others"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
	reset(f);
	/* readers: a warning */
	fd = statestore_open(P(f, "st"), STATESTORE_READONLY, &f->d);
	assert_true(fd >= 0);
	close(fd);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING, "is writable by group or others"));
	assert_false(diag_failed(&f->d));
	reset(f);
	/* a sticky state dir is still refused: only parents may be sticky */
	assert_int_equal(chmod(P(f, "st"), 01777), 0);
	assert_int_equal(statestore_open(P(f, "st"), 0, &f->d), -EPERM);
	reset(f);
	/* a sticky world-writable parent (like /tmp) is fine, a plain one is not */
	assert_int_equal(mkdir(P(f, "st/s"), 0700), 0);
	fd = statestore_open(P(f, "st/s"), 0, &f->d);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(P(f, "st"), 0777), 0);
	assert_int_equal(statestore_open(P(f, "st/s"), 0, &f->d), -EPERM);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "writable by group or others and not sticky"));
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "on the way to state dir"));
	reset(f);
	/* quiet: no diagnostics */
	assert_int_equal(statestore_open(P(f, "st/s"), STATESTORE_QUIET, &f->d), -EPERM);
	assert_int_equal(f->d.nrecs, 0);
}

static void test_owners(void **state)
{
	struct fx *f = *state;
	int fd;

	if (geteuid() != 0) {
		/* chown needs root; CI runs as root, where this must never be skipped */
		if (getenv("CI"))
			fail_msg("test_owners needs root (CI=%s)", getenv("CI"));
		skip();
		return;
	}
	assert_int_equal(mkdir(P(f, "st"), 0700), 0);
	assert_int_equal(chown(P(f, "st"), 65534, 65534), 0);
	assert_int_equal(statestore_open(P(f, "st"), STATESTORE_CREATE, &f->d), -EPERM);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is owned by another user"));
	reset(f);
	/* a parent owned by a user */
	assert_int_equal(mkdir(P(f, "u"), 0755), 0);
	assert_int_equal(chown(P(f, "u"), 65534, 65534), 0);
	assert_int_equal(mkdir(P(f, "u/st"), 0700), 0);
	assert_int_equal(statestore_open(P(f, "u/st"), 0, &f->d), -EPERM);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is owned by a user other than root"));
	reset(f);
	/* a link planted by a user in a sticky world-writable dir is not followed */
	assert_int_equal(mkdir(P(f, "t"), 0700), 0);
	assert_int_equal(chmod(P(f, "t"), 01777), 0);
	assert_int_equal(mkdir(P(f, "target"), 0700), 0);
	assert_int_equal(symlink(P(f, "target"), P(f, "t/l")), 0);
	assert_int_equal(lchown(P(f, "t/l"), 65534, 65534), 0);
	assert_int_equal(statestore_open(P(f, "t/l/state"), STATESTORE_CREATE, &f->d), -EPERM);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "refusing to follow it"));
	assert_int_equal(access(P(f, "target/state"), F_OK), -1);
	reset(f);
	/* root's own link there is followed */
	assert_int_equal(lchown(P(f, "t/l"), 0, 0), 0);
	fd = statestore_open(P(f, "t/l/state"), STATESTORE_CREATE, &f->d);
	assert_true(fd >= 0);
	close(fd);
}

static void test_replace(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 0;
	struct dirent *de;
	DIR *dir;
	int fd, n = 0;

	fd = statestore_open(P(f, "st"), STATESTORE_CREATE, &f->d);
	assert_true(fd >= 0);
	assert_int_equal(statestore_replace(fd, "x", "one", 3, STATESTORE_SYNC | STATESTORE_SYNC_DIR), 0);
	assert_int_equal(statestore_replace(fd, "x", "second", 6, 0), 0);
	assert_int_equal(statestore_read(fd, "x", 100, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "second");
	free(buf);
	assert_int_equal(statestore_read(fd, "x", 3, &buf, &len), -EBADMSG);
	/* a link at the name is replaced, its target untouched */
	close(open(P(f, "outside"), O_WRONLY | O_CREAT, 0600));
	assert_int_equal(symlinkat(P(f, "outside"), fd, "y"), 0);
	assert_int_equal(statestore_read(fd, "y", 100, &buf, &len), -ELOOP);
	assert_int_equal(statestore_replace(fd, "y", "z", 1, STATESTORE_SYNC), 0);
	{
		struct stat st;

		assert_int_equal(stat(P(f, "outside"), &st), 0);
		assert_int_equal(st.st_size, 0);
		assert_int_equal(lstat(P(f, "st/y"), &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* no temp file left behind; a failure leaves none either */
	assert_int_equal(statestore_replace(fd, "nodir/x", "a", 1, 0), -ENOENT);
	dir = opendir(P(f, "st"));
	assert_non_null(dir);
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
		else
			assert_true(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
	closedir(dir);
	assert_int_equal(n, 2);
	close(fd);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	int fd, l1, l2, held = -1;

	fd = statestore_open(P(f, "st"), STATESTORE_CREATE, &f->d);
	assert_true(fd >= 0);
	l1 = statestore_lock(fd, "lock", 0, NULL);
	assert_true(l1 >= 0);
	/* flock is per open file: a second open conflicts, even in this process */
	assert_int_equal(statestore_lock(fd, "lock", 0, &held), -EWOULDBLOCK);
	assert_true(held >= 0);
	close(held);
	assert_int_equal(statestore_lock(fd, "lock", 1, NULL), -EWOULDBLOCK);
	close(l1);
	l2 = statestore_lock(fd, "lock", 0, NULL);
	assert_true(l2 >= 0);
	close(l2);
	assert_int_equal(symlinkat("lock", fd, "lock2"), 0);
	assert_int_equal(statestore_lock(fd, "lock2", 0, NULL), -ELOOP);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
