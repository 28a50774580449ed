// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Config loader: libconfig syntax, then semantic checks with file:line for
 * every mistake (OpenBSD pfctl style: keep going, count errors). Produces a
 * normalized struct policy; never touches the kernel or the network.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "cidr.h"
#include "diag.h"
#include "policy.h"
#include "util.h"

/* A named list from the `lists` group, merged. */
struct cfg_list {
	const char *name;
	struct rangeset v4, v6;
	size_t nsources;
	int line;
	int used;
};

struct cfg_ctx {
	const char *name;	/* config file name for messages */
	const char *basedir;	/* for relative allow_file */
	struct diag *d;
	struct policy *p;
	struct cfg_list *lists;
	size_t nlists;
	const char *text;	/* the main file's text, for line fix-ups; may be NULL */
	size_t textlen;
	size_t *line_off;	/* start offset of each line (index 0 = line 1) */
	size_t nlines;
	unsigned flags;		/* CONFIG_* */
	bool strict;		/* portlock.strict: unsafe file permissions are errors */
	bool have_st;
	struct stat cfg_st;	/* the main file, as opened */
};

static const char *const top_keys[] = { "portlock", "lists", "services", NULL };
static const char *const portlock_keys[] = { "table", "action", "hooks", "log", "loopback",
					      "journal_keep", "strict", "mode", "retention", NULL };
static const char *const log_keys[] = { "prefix", "rate", "enabled", NULL };
static const char *const service_keys[] = { "name", "expect", "proto", "ports", "allow",
					     "allow_file", "mode", "retention", "critical", NULL };
static const char *const expect_values[] = { "smtp", "smtps", "smpp", "smpp-tls", NULL };

/*
 * Words nft refuses where a table name is expected: every word nft 1.0.6
 * (Debian 12) rejects in `add table inet WORD` (found by trying each word of
 * nft(8) and libnftables), plus keywords of other nft versions. A name on
 * this list is refused even where a given nft would take it.
 */
static const char *const nft_keywords[] = {
	"accept", "add", "ah", "all", "and", "arp", "auto-merge", "bridge", "burst", "bytes",
	"cgroup", "chain", "chains", "comment", "comp", "constant", "continue", "counter",
	"counters", "cpu", "create", "ct", "daddr", "day", "dccp", "define", "delete", "describe",
	"destroy", "device", "devices", "dnat", "dport", "drop", "dst", "dup", "dynamic", "ecn",
	"element", "elements", "esp", "ether", "exists", "expires", "export", "exthdr", "fib",
	"flags", "flow", "flowtable", "flowtables", "flush", "frag", "fwd", "gc-interval", "get",
	"goto", "handle", "hash", "hbh", "hook", "hour", "ibriport", "ibrname", "icmp", "icmpv6",
	"igmp", "iif", "iifgroup", "iifname", "iiftype", "import", "include", "index", "inet",
	"insert", "interval", "ip", "ip6", "ipsec", "jhash", "jump", "label", "limit", "list",
	"log", "lt", "map", "maps", "mark", "masquerade", "meta", "meter", "meters", "mh",
	"missing", "monitor", "nat", "netdev", "nftrace", "not", "notrack", "numgen", "obriport",
	"obrname", "offload", "oif", "oifgroup", "oifname", "oiftype", "or", "osf", "packets",
	"pkttype", "policy", "position", "prefix", "priority", "queue", "quota", "quotas",
	"random", "rate", "redefine", "redirect", "reject", "rename", "replace", "reset",
	"return", "route", "rt", "rt0", "rt2", "rtclassid", "rule", "ruleset", "saddr", "sctp",
	"secmark", "set", "sets", "size", "skgid", "skuid", "snat", "socket", "sport", "srh",
	"symhash", "synproxy", "table", "tables", "tcp", "th", "time", "timeout", "tproxy",
	"type", "typeof", "udp", "udplite", "undefine", "update", "vlan", "vmap", "with", "xor",
	"xt", NULL,
};

static int in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

/* Damerau-free Levenshtein distance, for short keys only. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
						    tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

static const char *closest(const char *const *list, const char *s)
{
	const char *best = NULL;
	size_t bestd = 3;	/* suggest only within two edits */

	for (size_t i = 0; list[i]; i++) {
		size_t dist = edit_distance(list[i], s);

		if (dist < bestd) {
			bestd = dist;
			best = list[i];
		}
	}
	return best;
}

static int index_lines(struct cfg_ctx *c)
{
	size_t n = 1;

	for (size_t i = 0; i < c->textlen; i++)
		n += c->text[i] == '\n';
	c->line_off = malloc(n * sizeof(*c->line_off));
	if (!c->line_off)
		return -ENOMEM;
	c->line_off[0] = 0;
	c->nlines = 1;
	for (size_t i = 0; i < c->textlen; i++)
		if (c->text[i] == '\n')
			c->line_off[c->nlines++] = i + 1;
	return 0;
}

/*
 * libconfig stamps a string element of an array or list with the line of the
 * token that follows it (its parser needs that lookahead because adjacent
 * strings concatenate), so the last prefix of a one-per-line list would be
 * blamed on the line of the closing ']'. Walk back to the line that holds the
 * literal. Only for the main file, whose text we have.
 */
static int string_elem_line(struct cfg_ctx *c, const config_setting_t *s, int line)
{
	const config_setting_t *parent = config_setting_parent(s);
	const char *file = config_setting_source_file(s);
	const char *val = config_setting_get_string(s);
	size_t vlen;

	if (!c->text || !val || !parent || line < 1 ||
	    (config_setting_type(parent) != CONFIG_TYPE_ARRAY &&
	     config_setting_type(parent) != CONFIG_TYPE_LIST) ||
	    (file && strcmp(file, c->name)))
		return line;
	if (!c->line_off && index_lines(c) < 0)
		return line;
	vlen = strlen(val);
	for (int l = line; l >= 1 && l > line - 20; l--) {
		size_t from, to;

		if ((size_t)l > c->nlines)
			continue;
		from = c->line_off[l - 1];
		to = (size_t)l < c->nlines ? c->line_off[l] : c->textlen;
		for (size_t i = from; i + vlen + 2 <= to; i++)
			if (c->text[i] == '"' && c->text[i + vlen + 1] == '"' &&
			    !memcmp(c->text + i + 1, val, vlen))
				return l;
	}
	return line;
}

static struct srcloc loc_of(struct cfg_ctx *c, const config_setting_t *s)
{
	struct srcloc l = { c->name, s ? (int)config_setting_source_line(s) : 0 };
	const char *f = s ? config_setting_source_file(s) : NULL;

	if (f)
		l.file = f;
	if (s && config_setting_type(s) == CONFIG_TYPE_STRING)
		l.line = string_elem_line(c, s, l.line);
	return l;
}

/* an error (err) or a warning at s's file:line */
static void cfg_say(struct cfg_ctx *c, const config_setting_t *s, bool err, const char *fmt, va_list ap)
	__printf(4, 0);
static void cfg_say(struct cfg_ctx *c, const config_setting_t *s, bool err, const char *fmt, va_list ap)
{
	struct srcloc l = loc_of(c, s);
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (err)
		diag_err(c->d, DIAG_CONFIG, &l, 0, "%s", msg ? msg : "out of memory");
	else
		diag_warn(c->d, &l, "%s", msg ? msg : "out of memory");
	free(msg);
}

static void cfg_err(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
	__printf(3, 4);
static void cfg_err(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_say(c, s, true, fmt, ap);
	va_end(ap);
}

static void cfg_warn(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
	__printf(3, 4);
static void cfg_warn(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_say(c, s, false, fmt, ap);
	va_end(ap);
}

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP: return "a group { ... }";
	case CONFIG_TYPE_INT: return "an integer";
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
	case CONFIG_TYPE_LIST: return "a list ( ... )";
	}
	return "?";
}

/* Report members of group g that are not in keys. */
static void check_keys(struct cfg_ctx *c, const config_setting_t *g, const char *const *keys,
		       const char *where)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		const char *hint;

		if (!name || in_list(keys, name))
			continue;
		hint = closest(keys, name);
		if (hint)
			cfg_err(c, m, "unknown key '%s' in %s; did you mean '%s'?", name, where, hint);
		else
			cfg_err(c, m, "unknown key '%s' in %s", name, where);
	}
}

static int is_aggregate(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
}

/* Fetch a string member; reports a type error and returns NULL when wrong. */
static const char *get_string(struct cfg_ctx *c, const config_setting_t *g, const char *key,
			      const char *where)
{
	config_setting_t *m = config_setting_get_member(g, key);

	if (!m)
		return NULL;
	if (config_setting_type(m) != CONFIG_TYPE_STRING) {
		cfg_err(c, m, "%s '%s' must be a string, not %s", where, key,
			type_name(config_setting_type(m)));
		return NULL;
	}
	return config_setting_get_string(m);
}

/* Fetch a bool member into *out; leaves *out alone when absent or wrong. */
static void get_bool(struct cfg_ctx *c, const config_setting_t *g, const char *key,
		     const char *where, bool *out)
{
	config_setting_t *m = config_setting_get_member(g, key);

	if (!m)
		return;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
		cfg_err(c, m, "%s '%s' must be true or false, not %s", where, key,
			type_name(config_setting_type(m)));
		return;
	}
	*out = config_setting_get_bool(m);
}

/* 'mode': "enforce" or "observe" */
static void get_mode(struct cfg_ctx *c, const config_setting_t *g, const char *where,
		     enum policy_mode *out)
{
	config_setting_t *m = config_setting_get_member(g, "mode");
	const char *s;

	if (!m)
		return;
	s = config_setting_get_string(m);
	if (!s) {
		cfg_err(c, m, "%s 'mode' must be a string, \"enforce\" or \"observe\", not %s", where,
			type_name(config_setting_type(m)));
		return;
	}
	if (!strcmp(s, "enforce"))
		*out = POLICY_MODE_ENFORCE;
	else if (!strcmp(s, "observe"))
		*out = POLICY_MODE_OBSERVE;
	else
		cfg_err(c, m, "%s mode '%s' is not \"enforce\" or \"observe\"", where, s);
}

/* 'retention': a duration string ("30d", "12h", "1h30m") or seconds */
static void get_retention(struct cfg_ctx *c, const config_setting_t *g, const char *where,
			  uint32_t *out)
{
	config_setting_t *m = config_setting_get_member(g, "retention");
	uint64_t v = 0;
	int t;

	if (!m)
		return;
	t = config_setting_type(m);
	if (t == CONFIG_TYPE_STRING) {
		int r = util_parse_duration(config_setting_get_string(m), &v);

		if (r < 0) {
			cfg_err(c, m, "%s retention '%s' is not a duration (like \"30d\", \"12h\", \"1h30m\")",
				where, config_setting_get_string(m));
			return;
		}
	} else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long n = t == CONFIG_TYPE_INT64 ? config_setting_get_int64(m)
						     : config_setting_get_int(m);

		v = n < 0 ? 0 : (uint64_t)n;
	} else {
		cfg_err(c, m, "%s 'retention' must be a duration string like \"30d\", not %s", where,
			type_name(t));
		return;
	}
	if (v < 1 || v > POLICY_MAX_RETENTION) {
		cfg_err(c, m, "%s retention %llu s is out of range (1 s to 3650 days)", where,
			(unsigned long long)v);
		return;
	}
	*out = (uint32_t)v;
}

int config_valid_table_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return !in_list(nft_keywords, s);
}

/* Service and list names become parts of set names: keep them plain. */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static int parse_rate(const char *s, unsigned *rate, enum policy_rate_unit *unit)
{
	static const char *const units[] = { "second", "minute", "hour", "day" };
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v == 0 || v > 1000000 || *end != '/')
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(end + 1, units[i])) {
			*rate = (unsigned)v;
			*unit = (enum policy_rate_unit)i;
			return 0;
		}
	}
	return -1;
}

static void load_log(struct cfg_ctx *c, const config_setting_t *g)
{
	const char *prefix, *rate;

	if (config_setting_type(g) == CONFIG_TYPE_BOOL) {
		c->p->log = config_setting_get_bool(g);
		return;
	}
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cfg_err(c, g, "'log' must be a group { prefix = ...; rate = ...; } or a boolean, not %s",
			type_name(config_setting_type(g)));
		return;
	}
	check_keys(c, g, log_keys, "'log'");
	get_bool(c, g, "enabled", "log", &c->p->log);
	prefix = get_string(c, g, "prefix", "log");
	if (prefix) {
		int bad = strlen(prefix) > 64;

		for (const char *q = prefix; *q && !bad; q++)
			if (*q < 0x20 || *q >= 0x7f || *q == '"' || *q == '\\' || *q == '$')
				bad = 1;
		if (bad) {
			cfg_err(c, config_setting_get_member(g, "prefix"),
				"log prefix must be at most 64 printable characters without '\"', '\\' or '$'");
		} else {
			free(c->p->log_prefix);
			c->p->log_prefix = strdup(prefix);
		}
	}
	rate = get_string(c, g, "rate", "log");
	if (rate && parse_rate(rate, &c->p->log_rate, &c->p->log_unit) < 0)
		cfg_err(c, config_setting_get_member(g, "rate"),
			"log rate '%s' is not of the form N/second, N/minute, N/hour or N/day", rate);
}

static void load_portlock(struct cfg_ctx *c, const config_setting_t *g)
{
	config_setting_t *m;
	const char *s;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cfg_err(c, g, "'portlock' must be a group { ... }, not %s",
			type_name(config_setting_type(g)));
		return;
	}
	check_keys(c, g, portlock_keys, "'portlock'");

	s = get_string(c, g, "table", "portlock");
	if (s) {
		if (!config_valid_table_name(s)) {
			cfg_err(c, config_setting_get_member(g, "table"),
				"table name '%s' is not accepted by nft: use letters, digits, '_' and '-', starting with a letter, at most 64, and not an nft keyword",
				s);
		} else {
			free(c->p->table);
			c->p->table = strdup(s);
		}
	}
	s = get_string(c, g, "action", "portlock");
	if (s) {
		if (!strcmp(s, "drop"))
			c->p->action = POLICY_DROP;
		else if (!strcmp(s, "reject"))
			c->p->action = POLICY_REJECT;
		else
			cfg_err(c, config_setting_get_member(g, "action"),
				"action '%s' is not 'drop' or 'reject'", s);
	}
	m = config_setting_get_member(g, "hooks");
	if (m) {
		if (!is_aggregate(m)) {
			cfg_err(c, m, "'hooks' must be an array of strings, not %s",
				type_name(config_setting_type(m)));
		} else {
			unsigned hooks = 0;
			int n = config_setting_length(m);

			for (int i = 0; i < n; i++) {
				config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
				const char *h = config_setting_get_string(e);
				unsigned bit = 0;

				if (!h) {
					cfg_err(c, e, "'hooks' entries must be strings");
					continue;
				}
				if (!strcmp(h, "input"))
					bit = POLICY_HOOK_INPUT;
				else if (!strcmp(h, "forward"))
					bit = POLICY_HOOK_FORWARD;
				if (!bit) {
					cfg_err(c, e, "hook '%s' is not 'input' or 'forward'", h);
					continue;
				}
				if (hooks & bit)
					cfg_warn(c, e, "hook '%s' listed twice", h);
				hooks |= bit;
			}
			if (!hooks && !n)
				cfg_err(c, m, "'hooks' is empty: give at least \"input\"");
			else if (hooks)
				c->p->hooks = hooks;
		}
	}
	m = config_setting_get_member(g, "log");
	if (m)
		load_log(c, m);
	get_bool(c, g, "loopback", "portlock", &c->p->loopback);
	get_bool(c, g, "strict", "portlock", &c->strict);
	get_mode(c, g, "portlock", &c->p->mode);
	get_retention(c, g, "portlock", &c->p->retention);
	m = config_setting_get_member(g, "journal_keep");
	if (m) {
		int t = config_setting_type(m);
		long long v = t == CONFIG_TYPE_INT64 ? config_setting_get_int64(m)
						     : config_setting_get_int(m);

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			cfg_err(c, m, "'journal_keep' must be an integer, not %s", type_name(t));
		else if (v < 1 || v > 100000)
			cfg_err(c, m, "'journal_keep' %lld is out of range (1 to 100000)", v);
		else
			c->p->journal_keep = (unsigned)v;
	}
}

/*
 * Parse one prefix text and add it to the right family. loc is the place to
 * blame; setting (may be NULL) is used for the location when loc is NULL.
 */
static int add_prefix(struct cfg_ctx *c, const char *text, const struct srcloc *loc,
		      struct rangeset *v4, struct rangeset *v6, size_t *count)
{
	struct cidr cidr;
	enum cidr_status st = cidr_parse(text, &cidr);
	char buf[64];

	switch (st) {
	case CIDR_OK:
		break;
	case CIDR_HOSTBITS:
		diag_warn(c->d, loc, "'%s' has host bits set; using %s/%d", text,
			  cidr_addr_str(cidr.family, cidr.addr, buf, sizeof(buf)), cidr.plen);
		break;
	default:
		diag_err(c->d, DIAG_CONFIG, loc, 0, "'%s' is not a valid prefix: %s", text,
			 cidr_status_str(st));
		return 0;
	}
	if (cidr.plen == 0)
		diag_warn(c->d, loc, "'%s' allows every %s source", text,
			  cidr.family == CIDR_V4 ? "IPv4" : "IPv6");
	(*count)++;
	if (rangeset_add_cidr(cidr.family == CIDR_V4 ? v4 : v6, &cidr) < 0)
		return -ENOMEM;
	return 0;
}

static void load_lists(struct cfg_ctx *c, const config_setting_t *g)
{
	int n;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cfg_err(c, g, "'lists' must be a group { name = [ ... ]; ... }, not %s",
			type_name(config_setting_type(g)));
		return;
	}
	n = config_setting_length(g);
	c->lists = calloc((size_t)n + 1, sizeof(*c->lists));
	if (!c->lists) {
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "lists");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		struct cfg_list *l = &c->lists[c->nlists];
		int k;

		if (!valid_name(config_setting_name(m))) {
			cfg_err(c, m, "list name '%s' must start with a letter and hold only letters, digits and '_' (at most 32)",
				config_setting_name(m));
			continue;
		}
		if (!is_aggregate(m)) {
			cfg_err(c, m, "list '%s' must be an array of prefixes, not %s",
				config_setting_name(m), type_name(config_setting_type(m)));
			continue;
		}
		l->name = config_setting_name(m);
		l->line = (int)config_setting_source_line(m);
		rangeset_init(&l->v4);
		rangeset_init(&l->v6);
		c->nlists++;
		k = config_setting_length(m);
		for (int j = 0; j < k; j++) {
			config_setting_t *e = config_setting_get_elem(m, (unsigned)j);
			const char *s = config_setting_get_string(e);
			struct srcloc loc = loc_of(c, e);

			if (!s) {
				cfg_err(c, e, "list '%s': entries must be strings such as \"192.0.2.0/24\", not %s",
					l->name, type_name(config_setting_type(e)));
				continue;
			}
			if (s[0] == '@') {
				cfg_err(c, e, "list '%s': '%s': a list cannot refer to another list",
					l->name, s);
				continue;
			}
			if (add_prefix(c, s, &loc, &l->v4, &l->v6, &l->nsources) < 0) {
				diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "list '%s'", l->name);
				return;
			}
		}
		rangeset_normalize(&l->v4);
		rangeset_normalize(&l->v6);
	}
}

static struct cfg_list *find_list(struct cfg_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nlists; i++)
		if (!strcmp(c->lists[i].name, name))
			return &c->lists[i];
	return NULL;
}

static int append_ranges(struct rangeset *dst, const struct rangeset *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (rangeset_add(dst, src->r[i].lo, src->r[i].hi) < 0)
			return -ENOMEM;
	return 0;
}

static char *resolve_path(struct cfg_ctx *c, const char *path)
{
	char *out = NULL;

	if (path[0] == '/' || !c->basedir || !*c->basedir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", c->basedir, path) < 0)
		return NULL;
	return out;
}

/* The whole of a regular file (hint: its size); NULL with *err set on failure. */
static char *read_whole(int fd, size_t hint, size_t *lenp, int *err)
{
	size_t cap = hint + 1, len = 0;
	char *buf = malloc(cap);

	for (;;) {
		ssize_t n;

		if (!buf) {
			*err = ENOMEM;
			return NULL;
		}
		if (len == cap) {
			char *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				*err = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return buf;
}

/* Lines of buf, counting a last one without newline. */
static size_t count_lines(const char *buf, size_t len)
{
	size_t n = 0;

	for (const char *p = buf, *end = buf + len; p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	}
	return n;
}

enum config_line config_allow_line(const char *ln, size_t n, struct cidr *out, char *text,
				   size_t textlen)
{
	enum cidr_status st;
	char *p, *q;

	if (textlen)
		text[0] = '\0';
	/* the common line, a canonical IPv4 prefix, without copying it */
	if (n && cidr_parse_v4_fast(ln, n, out))
		return CONFIG_LINE_PREFIX;
	if (n >= textlen - 1 || n >= CONFIG_LINE_MAX - 1)
		return CONFIG_LINE_TOO_LONG;
	memcpy(text, ln, n);
	text[n] = '\0';
	p = text;
	q = strchr(p, '#');
	if (q)
		*q = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	q = p + strlen(p);
	while (q > p && isspace((unsigned char)q[-1]))
		*--q = '\0';
	if (p != text)
		memmove(text, p, strlen(p) + 1);
	if (!*text)
		return CONFIG_LINE_BLANK;
	st = cidr_parse(text, out);
	if (st == CIDR_OK && out->plen != 0)
		return CONFIG_LINE_PREFIX;
	/* host bits, a /0 or not a prefix: add_prefix() says what, from text */
	return CONFIG_LINE_NOISY;
}

/*
 * A file that decides what is exposed must be changeable by root only: owned
 * by root (or by the user running portlock) and not writable by group or
 * others. Otherwise a warning naming it, an error with `strict = true`.
 */
static void check_perm(struct cfg_ctx *c, const char *what, const char *path, const struct stat *st)
{
	uid_t me = geteuid();
	char why[128];

	if (st->st_uid != 0 && st->st_uid != me)
		snprintf(why, sizeof(why), "is owned by uid %u, not root", (unsigned)st->st_uid);
	else if (st->st_mode & 022)
		snprintf(why, sizeof(why), "is writable by group or others (mode %04o)",
			 (unsigned)(st->st_mode & 07777));
	else
		return;
	if (c->strict)
		diag_err(c->d, DIAG_CONFIG, &(struct srcloc){ path, 0 }, 0,
			 "%s %s: whoever can write it decides what is exposed; refusing it "
			 "(strict = true)", what, why);
	else
		diag_warn(c->d, &(struct srcloc){ path, 0 },
			  "%s %s: whoever can write it decides what is exposed; make it "
			  "root's, writable by root only", what, why);
}

/* CONFIG_DEFER_ALLOW_FILES: only note the file (full, taken) for compile.c to read. */
static void defer_allow_file(struct cfg_ctx *c, struct policy_service *s, char *full)
{
	struct stat st;

	/* compile.c reads it (and falls back to a full load for any problem) */
	if (stat(full, &st) == 0)
		check_perm(c, "allow_file", full, &st);
	if (util_grow((void **)&s->files, &s->cfiles, s->nfiles + 1, sizeof(*s->files)) < 0) {
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file");
		free(full);
		return;
	}
	s->files[s->nfiles++] = full;
}

/* Open allow_file full (e names it), a regular file, *st its status. Returns the fd or -1 (reported). */
static int open_allow_file(struct cfg_ctx *c, const config_setting_t *e,
			   const struct policy_service *s, const char *full, struct stat *st)
{
	int fd;

	/*
	 * O_NONBLOCK: a FIFO must not hang the load; only regular files are read,
	 * so a device (/dev/zero) or a directory is reported instead of looping.
	 */
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))) {
		struct srcloc l = loc_of(c, e);

		diag_err(c->d, DIAG_CONFIG, &l, 0,
			 "service '%s': allow_file '%s' is not a regular file", s->name, full);
		close(fd);
		return -1;
	}
	if (fd < 0) {
		struct srcloc l = loc_of(c, e);
		int err = errno;

		diag_err(c->d, DIAG_CONFIG, &l, err, "service '%s': cannot read allow_file '%s'",
			 s->name, full);
		return -1;
	}
	return fd;
}

/* The prefixes of allow_file full's content (buf, len) into s, one per line. */
static void parse_allow_lines(struct cfg_ctx *c, struct policy_service *s, const char *full,
			      const char *buf, size_t len)
{
	char line[512];
	int lineno = 0;

	for (size_t off = 0; off < len;) {
		const char *ln = buf + off, *nl = memchr(ln, '\n', len - off);
		size_t n = nl ? (size_t)(nl - ln) : len - off;
		struct srcloc l = { full, ++lineno };
		struct cidr cidr;

		off += n + (nl != NULL);
		switch (config_allow_line(ln, n, &cidr, line, sizeof(line))) {
		case CONFIG_LINE_BLANK:
			continue;
		case CONFIG_LINE_TOO_LONG:
			diag_err(c->d, DIAG_CONFIG, &l, 0, "line too long");
			continue;
		case CONFIG_LINE_PREFIX:
			s->nsources++;
			if (rangeset_add_cidr(cidr.family == CIDR_V4 ? &s->v4 : &s->v6, &cidr) < 0) {
				diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file '%s'", full);
				off = len;
			}
			continue;
		case CONFIG_LINE_NOISY:
			if (add_prefix(c, line, &l, &s->v4, &s->v6, &s->nsources) < 0) {
				diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file '%s'", full);
				off = len;
			}
			continue;
		}
	}
}

static void load_allow_file(struct cfg_ctx *c, const config_setting_t *e,
			    struct policy_service *s)
{
	const char *path = config_setting_get_string(e);
	char *full, *buf;
	struct stat st;
	size_t len = 0;
	int fd, rerr = 0;

	if (!path) {
		cfg_err(c, e, "service '%s': 'allow_file' must be a string (a path)", s->name);
		return;
	}
	full = resolve_path(c, path);
	if (!full) {
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file");
		return;
	}
	if (c->flags & CONFIG_DEFER_ALLOW_FILES) {
		defer_allow_file(c, s, full);
		return;
	}
	fd = open_allow_file(c, e, s, full, &st);
	if (fd < 0) {
		free(full);
		return;
	}
	check_perm(c, "allow_file", full, &st);
	buf = read_whole(fd, (size_t)st.st_size, &len, &rerr);
	close(fd);
	if (!buf) {
		struct srcloc l = { full, 0 };

		if (rerr == ENOMEM)
			diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file '%s'", full);
		else
			diag_err(c->d, DIAG_CONFIG, &l, rerr, "error reading allow_file");
		free(full);
		return;
	}
	/* a million lines: room for one range per line, reserved once */
	if (rangeset_reserve(&s->v4, s->v4.n + count_lines(buf, len)) < 0)
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow_file '%s'", full);
	else
		parse_allow_lines(c, s, full, buf, len);
	free(buf);
	free(full);
}

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void load_ports(struct cfg_ctx *c, const config_setting_t *m, struct policy_service *s)
{
	int n;

	if (config_setting_type(m) == CONFIG_TYPE_INT || config_setting_type(m) == CONFIG_TYPE_STRING) {
		cfg_err(c, m, "service '%s': 'ports' must be an array such as [25, 587]", s->name);
		return;
	}
	if (!is_aggregate(m)) {
		cfg_err(c, m, "service '%s': 'ports' must be an array of port numbers, not %s",
			s->name, type_name(config_setting_type(m)));
		return;
	}
	n = config_setting_length(m);
	if (n == 0) {
		cfg_err(c, m, "service '%s' has no ports", s->name);
		return;
	}
	s->ports = calloc((size_t)n, sizeof(*s->ports));
	if (!s->ports) {
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "ports");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		int t = config_setting_type(e);
		long long v;

		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
			v = t == CONFIG_TYPE_INT ? config_setting_get_int(e)
						 : config_setting_get_int64(e);
		} else if (t == CONFIG_TYPE_STRING) {
			const char *str = config_setting_get_string(e);
			char *end;

			errno = 0;
			v = strtoll(str, &end, 10);
			if (!isdigit((unsigned char)*str) || *end || errno) {
				cfg_err(c, e, "service '%s': port '%s' is not a number", s->name, str);
				continue;
			}
		} else {
			cfg_err(c, e, "service '%s': ports must be numbers, not %s", s->name,
				type_name(t));
			continue;
		}
		if (v < 1 || v > 65535) {
			cfg_err(c, e, "service '%s': port %lld is out of range (1 to 65535)", s->name, v);
			continue;
		}
		for (size_t j = 0; j < s->nports; j++) {
			if (s->ports[j] == v) {
				cfg_warn(c, e, "service '%s': port %lld listed twice", s->name, v);
				v = -1;
				break;
			}
		}
		if (v > 0)
			s->ports[s->nports++] = (uint16_t)v;
	}
	qsort(s->ports, s->nports, sizeof(*s->ports), port_cmp);
}

static void load_allow(struct cfg_ctx *c, const config_setting_t *m, struct policy_service *s)
{
	int n;

	if (!is_aggregate(m)) {
		cfg_err(c, m, "service '%s': 'allow' must be an array of prefixes or @lists, not %s",
			s->name, type_name(config_setting_type(m)));
		return;
	}
	n = config_setting_length(m);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		const char *str = config_setting_get_string(e);
		struct srcloc loc = loc_of(c, e);

		if (!str) {
			cfg_err(c, e, "service '%s': 'allow' entries must be strings, not %s", s->name,
				type_name(config_setting_type(e)));
			continue;
		}
		if (str[0] == '@') {
			struct cfg_list *l = find_list(c, str + 1);

			if (!l) {
				cfg_err(c, e, "service '%s': list '%s' does not exist (define it under 'lists')",
					s->name, str + 1);
				continue;
			}
			l->used = 1;
			s->nsources += l->nsources;
			if (append_ranges(&s->v4, &l->v4) < 0 || append_ranges(&s->v6, &l->v6) < 0)
				diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow");
			continue;
		}
		if (add_prefix(c, str, &loc, &s->v4, &s->v6, &s->nsources) < 0)
			diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "allow");
	}
}

static void load_service(struct cfg_ctx *c, const config_setting_t *g, struct policy_service *s,
			 int idx)
{
	config_setting_t *m;
	const char *str;
	char auto_name[32];

	s->proto = POLICY_TCP;
	s->line = (int)config_setting_source_line(g);
	s->file = strdup(loc_of(c, g).file ? loc_of(c, g).file : c->name);
	check_keys(c, g, service_keys, "service");

	str = get_string(c, g, "name", "service");
	if (!str) {
		if (!config_setting_get_member(g, "name"))
			cfg_err(c, g, "service #%d has no 'name'", idx + 1);
		snprintf(auto_name, sizeof(auto_name), "service%d", idx + 1);
		str = auto_name;
	} else if (!valid_name(str)) {
		cfg_err(c, config_setting_get_member(g, "name"),
			"service name '%s' must start with a letter and hold only letters, digits and '_' (at most 32)",
			str);
	}
	s->name = strdup(str);
	/* the portlock group is loaded first: a service inherits its mode and retention */
	s->mode = c->p->mode;
	s->retention = c->p->retention;
	get_mode(c, g, "service", &s->mode);
	get_retention(c, g, "service", &s->retention);
	get_bool(c, g, "critical", "service", &s->critical);

	str = get_string(c, g, "expect", "service");
	if (str) {
		if (!in_list(expect_values, str))
			cfg_err(c, config_setting_get_member(g, "expect"),
				"service '%s': expect '%s' is not one of smtp, smtps, smpp, smpp-tls",
				s->name, str);
		else
			s->expect = strdup(str);
	}
	str = get_string(c, g, "proto", "service");
	if (str) {
		if (!strcmp(str, "tcp"))
			s->proto = POLICY_TCP;
		else if (!strcmp(str, "udp"))
			s->proto = POLICY_UDP;
		else
			cfg_err(c, config_setting_get_member(g, "proto"),
				"service '%s': proto '%s' is not 'tcp' or 'udp'", s->name, str);
	}
	m = config_setting_get_member(g, "ports");
	if (m)
		load_ports(c, m, s);
	else
		cfg_err(c, g, "service '%s' has no 'ports'", s->name);

	m = config_setting_get_member(g, "allow");
	if (m)
		load_allow(c, m, s);
	config_setting_t *af = config_setting_get_member(g, "allow_file");
	if (af) {
		if (config_setting_type(af) == CONFIG_TYPE_STRING) {
			load_allow_file(c, af, s);
		} else if (is_aggregate(af)) {
			for (int i = 0; i < config_setting_length(af); i++)
				load_allow_file(c, config_setting_get_elem(af, (unsigned)i), s);
		} else {
			cfg_err(c, af, "service '%s': 'allow_file' must be a path string, not %s",
				s->name, type_name(config_setting_type(af)));
		}
	}
	if (!m && !af)
		cfg_err(c, g, "service '%s' has no 'allow': write allow = [] to close its ports to every remote source",
			s->name);
	rangeset_normalize(&s->v4);
	rangeset_normalize(&s->v6);
}

static void load_services(struct cfg_ctx *c, const config_setting_t *l)
{
	struct policy *p = c->p;
	int n;

	if (config_setting_type(l) != CONFIG_TYPE_LIST) {
		cfg_err(c, l, "'services' must be a list ( { ... }, { ... } ), not %s",
			type_name(config_setting_type(l)));
		return;
	}
	n = config_setting_length(l);
	if (n == 0) {
		/* like a missing 'services': a policy that enforces nothing is a mistake */
		cfg_err(c, l, "'services' is empty: nothing to enforce");
		return;
	}
	p->svcs = calloc((size_t)n + 1, sizeof(*p->svcs));
	if (!p->svcs) {
		diag_err(c->d, DIAG_INTERNAL, NULL, ENOMEM, "services");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned)i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			cfg_err(c, g, "service #%d must be a group { name = ...; ports = ...; }", i + 1);
			continue;
		}
		load_service(c, g, &p->svcs[p->nsvcs], i);
		p->nsvcs++;
	}
	/* cross-service checks: unique names, each port in one service only */
	for (size_t i = 0; i < p->nsvcs; i++) {
		struct policy_service *a = &p->svcs[i];

		for (size_t j = 0; j < i; j++) {
			struct policy_service *b = &p->svcs[j];
			struct srcloc loc = { a->file, a->line };

			if (a->name && b->name && !strcmp(a->name, b->name))
				diag_err(c->d, DIAG_CONFIG, &loc, 0,
					 "service name '%s' is already used at line %d", a->name,
					 b->line);
			if (a->proto != b->proto)
				continue;
			for (size_t x = 0; x < a->nports; x++)
				for (size_t y = 0; y < b->nports; y++)
					if (a->ports[x] == b->ports[y])
						diag_err(c->d, DIAG_CONFIG, &loc, 0,
							 "port %u/%s of service '%s' is already in service '%s' (line %d)",
							 a->ports[x], policy_proto_str(a->proto), a->name,
							 b->name, b->line);
		}
	}
}

static int load_root(struct cfg_ctx *c, config_t *cfg)
{
	config_setting_t *root = config_root_setting(cfg), *s;

	check_keys(c, root, top_keys, "the top level");
	s = config_setting_get_member(root, "portlock");
	if (s)
		load_portlock(c, s);
	/* the config file itself (after 'strict' is known) */
	if (c->have_st)
		check_perm(c, "config file", c->name, &c->cfg_st);
	s = config_setting_get_member(root, "lists");
	if (s)
		load_lists(c, s);
	s = config_setting_get_member(root, "services");
	if (s)
		load_services(c, s);
	else
		diag_err(c->d, DIAG_CONFIG, &(struct srcloc){ c->name, 0 }, 0,
			 "no 'services' list: nothing to enforce");
	for (size_t i = 0; i < c->nlists; i++)
		if (!c->lists[i].used)
			diag_warn(c->d, &(struct srcloc){ c->name, c->lists[i].line },
				  "list '%s' is not used by any service", c->lists[i].name);
	return 0;
}

static void free_lists(struct cfg_ctx *c)
{
	for (size_t i = 0; i < c->nlists; i++) {
		rangeset_fini(&c->lists[i].v4);
		rangeset_fini(&c->lists[i].v6);
	}
	free(c->lists);
}

static int config_finish(struct cfg_ctx *c, config_t *cfg, int ok, size_t errs_before)
{
	struct policy *p = c->p;

	if (ok) {
		load_root(c, cfg);
		p->source = strdup(c->name);
	} else {
		const char *f = config_error_file(cfg);
		struct srcloc l = { f ? f : c->name, config_error_line(cfg) };

		diag_err(c->d, DIAG_CONFIG, &l, 0, "syntax error: %s", config_error_text(cfg));
	}
	free_lists(c);
	free(c->line_off);
	c->line_off = NULL;
	config_destroy(cfg);
	if (c->d->nerrors > errs_before) {
		policy_fini(p);
		return -EINVAL;
	}
	return 0;
}

static void cfg_setup(config_t *cfg)
{
	config_init(cfg);
	/* keep 2775 an int, and let "x = 1" also be accepted where a float is meant */
	config_set_auto_convert(cfg, CONFIG_TRUE);
}

int config_load_string(const char *text, const char *name, const char *basedir,
		       struct policy *p, struct diag *d)
{
	struct cfg_ctx c = { .name = name, .basedir = basedir, .d = d, .p = p,
			     .text = text, .textlen = strlen(text) };
	size_t errs_before = d->nerrors;
	config_t cfg;
	int err;

	err = policy_init(p);
	if (err)
		return diag_err(d, DIAG_INTERNAL, NULL, -err, "policy");
	cfg_setup(&cfg);
	if (basedir)
		config_set_include_dir(&cfg, basedir);
	return config_finish(&c, &cfg, config_read_string(&cfg, text) == CONFIG_TRUE, errs_before);
}

int config_load_file(const char *path, struct policy *p, struct diag *d)
{
	return config_load_file_flags(path, p, d, 0);
}

int config_load_file_flags(const char *path, struct policy *p, struct diag *d, unsigned flags)
{
	struct cfg_ctx c = { .name = path, .d = d, .p = p, .flags = flags };
	size_t errs_before = d->nerrors;
	char *dir, *slash, *text = NULL;
	config_t cfg;
	FILE *f;
	int err, ok;

	f = fopen(path, "re");
	if (!f) {
		memset(p, 0, sizeof(*p));
		return diag_err(d, DIAG_CONFIG, &(struct srcloc){ path, 0 }, errno,
				"cannot read config");
	}
	err = policy_init(p);
	if (err) {
		fclose(f);
		return diag_err(d, DIAG_INTERNAL, NULL, -err, "policy");
	}
	c.have_st = fstat(fileno(f), &c.cfg_st) == 0;
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	c.basedir = slash ? dir : ".";
	cfg_setup(&cfg);
	config_set_include_dir(&cfg, c.basedir);
	ok = config_read(&cfg, f) == CONFIG_TRUE;
	/* keep the text for string_elem_line(); without it lines are libconfig's */
	if (ok && fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);

		if (size > 0 && fseek(f, 0, SEEK_SET) == 0) {
			text = malloc((size_t)size + 1);
			if (text && fread(text, 1, (size_t)size, f) == (size_t)size) {
				text[size] = '\0';
				c.text = text;
				c.textlen = (size_t)size;
			}
		}
	}
	fclose(f);
	err = config_finish(&c, &cfg, ok, errs_before);
	free(text);
	free(dir);
	return err;
}
