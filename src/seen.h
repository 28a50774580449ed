/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the packet path recorded: a service's seen sets (`S_seen4`/`S_seen6`,
 * elements `source . port` with a counter, filled by `update @S_seenF` for
 * every packet that is refused, or in observe mode would be) and its
 * temporary-access sets (`S_tmp4`/`S_tmp6`, intervals with a timeout, filled
 * by `portlock allow`). One netlink get of the set (for its default timeout)
 * and one dump of its elements, parsed straight from the attributes: 100,000
 * elements cost one dump, no object per element.
 *
 * Times: the kernel gives an element's timeout and the time left before it
 * expires. A seen element's timeout restarts with every packet (`update`),
 * so the last packet came timeout - expires ago.
 */
#ifndef PORTLOCK_SEEN_H
#define PORTLOCK_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct diag;
struct nl_sock;

struct seen_entry {
	enum cidr_family family;
	u128 addr;		/* seen: the source; tmp: the first address of the range */
	u128 last;		/* seen: == addr; tmp: the last address of the range */
	uint16_t port;		/* seen: the destination port; tmp: 0 */
	bool has_counter;
	uint64_t packets, bytes;
	uint64_t timeout_ms;	/* the element's timeout (else the set's); 0: none */
	uint64_t expires_ms;	/* time left before it expires; 0 with no timeout */
	int64_t last_seen;	/* seen: unix time of the last packet (0: unknown) */
	int64_t expires_at;	/* unix time it expires (0: never) */
};

/* Set names: "<service>_seen4", "<service>_tmp6"... into buf (NFT_NAME_MAXLEN). */
void seen_set_name(const char *service, bool tmp, enum cidr_family f, char *buf, size_t len);

/*
 * Read service's seen set of family f in table inet <table>. s may be NULL
 * (a socket is opened for the call). *out is malloc'ed (free() it; NULL when
 * *n is 0), in the kernel's order. Returns 0, -ENOENT when the table or the
 * set does not exist (nothing recorded in d, *n = 0), or -errno recorded in d.
 */
int seen_read(struct nl_sock *s, const char *table, const char *service, enum cidr_family f,
	      struct seen_entry **out, size_t *n, struct diag *d);

/* The same for the temporary-access set S_tmp4/S_tmp6: one entry per range. */
int seen_read_tmp(struct nl_sock *s, const char *table, const char *service, enum cidr_family f,
		  struct seen_entry **out, size_t *n, struct diag *d);

/* Sort entries by (family, addr, port). */
void seen_sort(struct seen_entry *e, size_t n);

/* One source of a seen set with everything recorded for it, over its ports. */
struct seen_source {
	enum cidr_family family;
	u128 addr;
	uint64_t packets, bytes;
	int64_t last_seen;	/* the latest of its ports' */
	size_t first, nports;	/* its entries: e[first .. first + nports), by port */
};

/*
 * Group sorted entries (seen_sort()) by source into *out (malloc'ed, free()
 * it). Returns 0 or -ENOMEM.
 */
int seen_group(const struct seen_entry *e, size_t n, struct seen_source **out, size_t *nout);

/* t as "2026-12-06 09:30:01" local time, or with iso "2026-12-06T09:30:01Z"; "-" for 0. */
char *seen_time_str(int64_t t, bool iso, char *buf, size_t len);

/*
 * Write len bytes to path atomically: a temporary file in the same directory
 * (mode 0644), fsync()ed, renamed over path, the directory fsync()ed. A
 * reader sees the old file or the new one, never a part. 0 or -errno
 * recorded in d naming path.
 */
int seen_write_atomic(const char *path, const char *buf, size_t len, struct diag *d);

#endif
