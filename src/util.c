// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers with no dependencies beyond libc. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void util_mark(const char *what)
{
	static int on = -1;
	static struct timespec t0;
	struct timespec t;

	if (on < 0) {
		on = getenv("PORTLOCK_DEBUG_TIMES") != NULL;
		clock_gettime(CLOCK_MONOTONIC, &t0);
	}
	if (!on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	fprintf(stderr, "portlock: time %8.3f %s\n",
		(double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6, what);
}

void util_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos = (size_t)n >= len - *pos ? len - 1 : *pos + (size_t)n;
}

int util_grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elsz)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*arr, ncap * elsz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int util_parse_duration(const char *s, uint64_t *secs)
{
	static const struct { char unit; uint64_t mult; } units[] = {
		{ 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	uint64_t total = 0;
	unsigned seen = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		uint64_t v = 0, mult = 1;
		size_t u;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p++ - '0');
			if (v > UINT32_MAX)
				return -ERANGE;
		}
		if (!*p) {
			/* a bare number: seconds, only on its own ("90", not "1h30") */
			if (seen)
				return -EINVAL;
			total = v;
			break;
		}
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (units[u].unit == *p)
				break;
		if (u == sizeof(units) / sizeof(units[0]) || (seen & (1u << u)))
			return -EINVAL;
		/* units from the largest down, each once: "1h30m", not "30m1h" */
		if (seen >> u)
			return -EINVAL;
		seen |= 1u << u;
		mult = units[u].mult;
		p++;
		total += v * mult;
		if (total > UINT32_MAX)
			return -ERANGE;
	}
	*secs = total;
	return 0;
}

char *util_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *util_escape(const void *in, size_t len, char *out, size_t outmax)
{
	const unsigned char *p = in;
	size_t o = 0;

	if (!outmax)
		return out;
	for (size_t i = 0; i < len; i++) {
		char tmp[5];
		size_t n;

		if (p[i] == '\\' || p[i] == '\'' || p[i] == '"') {
			tmp[0] = '\\';
			tmp[1] = (char)p[i];
			n = 2;
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			tmp[0] = (char)p[i];
			n = 1;
		} else if (p[i] == '\r') {
			memcpy(tmp, "\\r", 2);
			n = 2;
		} else if (p[i] == '\n') {
			memcpy(tmp, "\\n", 2);
			n = 2;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			n = 4;
		}
		if (o + n >= outmax)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

void util_fmt_clock(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t, now = time(NULL);
	struct tm tm, today;

	localtime_r(&tt, &tm);
	localtime_r(&now, &today);
	if (!strftime(buf, len, tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday ?
			 "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm) && len)
		buf[0] = '\0';
}
