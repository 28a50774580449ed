// SPDX-License-Identifier: GPL-2.0-or-later
/* Test hooks (testhook.h): only in builds with -DPORTLOCK_TEST_HOOKS=ON. */
#include "testhook.h"

#ifdef PORTLOCK_TEST_HOOKS
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

const char *testhook(const char *env)
{
	return getenv(env);
}

void testhook_syslog(int prio, const char *fmt, va_list ap)
{
	const char *path = getenv("PORTLOCK_TEST_SYSLOG");
	FILE *f = path ? fopen(path, "ae") : NULL;

	if (!f)
		return;
	fprintf(f, "%lld portlock[%d]: <%d> ", (long long)time(NULL), (int)getpid(), prio);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fclose(f);
}
#else
/* ISO C wants a translation unit to declare something */
typedef int testhook_empty;
#endif
