// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers with no dependencies beyond libc. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
