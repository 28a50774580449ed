// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Scanner exports (see report.h): libxml2 over untrusted bytes, then a pure
 * judgement of each entry against what the audit found now.
 */
#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "cidr.h"
#include "diag.h"
#include "policy.h"
#include "util.h"

/* ---- parsing ---- */

static const struct {
	const char *id;
	const char *name;
	enum report_kind kind;
} seeds[] = {
	{ "31132", "SMPP Server Detection", REPORT_KIND_SMPP },
	{ "10263", "SMTP Server Detection", REPORT_KIND_SMTP },
	{ "18391", "SMTP Server Non-standard Port Detection", REPORT_KIND_SMTP_NS },
	{ "11421", "smtpscan SMTP Fingerprinting", REPORT_KIND_SMTP_FP },
};

const char *report_format_str(enum report_format f)
{
	return f == REPORT_FMT_NMAP ? "nmap" : "nessus";
}

/* libxml2 state of one parse; the entity hook reaches it through ctxt->_private */
struct xml_guard {
	bool entity;		/* an entity declaration was seen: parse stopped */
	int line;
};

static void refuse_entity(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
			  const xmlChar *sys, xmlChar *content)
{
	xmlParserCtxtPtr c = ctx;
	struct xml_guard *g = c->_private;

	if (g && !g->entity) {
		g->entity = true;
		g->line = c->input ? c->input->line : 0;
	}
	xmlStopParser(c);
}

/* libxml2 reports through its generic handler too (with NOERROR only the SAX ones are off) */
static void quiet(void *ctx, const char *msg, ...)
{
}

static bool is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/*
 * Untrusted text for display: whitespace runs become one space, the rest is
 * escaped; at most outlen-1 bytes.
 */
static void clean(const char *in, char *out, size_t outlen)
{
	char tmp[1024];
	size_t o = 0;
	bool sp = false;

	for (const char *s = in ? in : ""; *s && o + 1 < sizeof(tmp); s++) {
		if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
			sp = o > 0;
			continue;
		}
		if (sp && o + 2 < sizeof(tmp))
			tmp[o++] = ' ';
		sp = false;
		tmp[o++] = *s;
	}
	util_escape(tmp, o, out, outlen);
}

static void attr(const xmlNode *n, const char *name, char *out, size_t len)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);

	clean((const char *)v, out, len);
	xmlFree(v);
}

static void text(const xmlNode *n, char *out, size_t len)
{
	xmlChar *v = xmlNodeGetContent(n);

	clean((const char *)v, out, len);
	xmlFree(v);
}

/* "25" -> 25; 0 for anything that is not a port number */
static uint16_t port_num(const char *s)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v <= 65535 ? (uint16_t)v : 0;
}

/* canonical form of an address, or false */
static bool canon_addr(const char *s, char *out, size_t len)
{
	struct cidr c;

	if (cidr_parse(s, &c) != CIDR_OK || c.plen != cidr_bits(c.family))
		return false;
	cidr_addr_str(c.family, c.addr, out, len);
	return true;
}

/* a new entry for ADDRESS (HOST) PROTO/PORT found at line; NULL: out of memory */
static struct report_entry *add(struct report *r, const char *address, const char *host,
				const char *proto, uint16_t port, int line)
{
	struct report_entry *e;

	if (util_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v)) < 0)
		return NULL;
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->address, sizeof(e->address), "%s", address);
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->udp = !strcmp(proto, "udp");
	e->port = port;
	e->line = line;
	return e;
}

static bool standard_smtp(uint16_t port)
{
	return port == 25 || port == 465 || port == 587;
}

/*
 * The first response recorded in an nmap service fingerprint (servicefp:
 * ...%r(NULL,21,"220\x20host\x20...\r\n")...): what the port sent, for
 * unrecognised software. Decoded from nmap's escapes into out (not
 * terminated); returns the number of bytes, and whether a NUL is among them.
 */
static size_t fp_response(const char *fp, char *out, size_t len, bool *binary)
{
	const char *p = strstr(fp, "r(");
	size_t o = 0;

	*binary = false;
	if (!p || !(p = strchr(p, ',')) || !(p = strchr(p + 1, ',')) || p[1] != '"')
		return 0;
	for (p += 2; *p && *p != '"' && o < len; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '0': c = '\0'; break;
			case 'x':
				if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
					char hex[3] = { p[1], p[2], 0 };

					c = (char)strtoul(hex, NULL, 16);
					p += 2;
				} else {
					c = 'x';
				}
				break;
			default: c = *p; break;
			}
		}
		*binary |= !c;
		out[o++] = c;
	}
	return o;
}

static int parse_nmap_host(const xmlNode *host, struct report *r)
{
	char address[64] = "", name[128] = "";

	for (const xmlNode *c = host->children; c; c = c->next) {
		char type[16], a[64];

		if (is_el(c, "address") && !address[0]) {
			attr(c, "addrtype", type, sizeof(type));
			attr(c, "addr", a, sizeof(a));
			if ((!strcmp(type, "ipv4") || !strcmp(type, "ipv6")) &&
			    !canon_addr(a, address, sizeof(address)))
				address[0] = '\0';
		} else if (is_el(c, "hostnames") && !name[0]) {
			for (const xmlNode *h = c->children; h && !name[0]; h = h->next)
				if (is_el(h, "hostname"))
					attr(h, "name", name, sizeof(name));
		}
	}
	for (const xmlNode *c = host->children; c; c = c->next) {
		if (!is_el(c, "ports"))
			continue;
		for (const xmlNode *pt = c->children; pt; pt = pt->next) {
			char proto[8], portid[16], state[24] = "", svc[64] = "", product[64] = "",
			     version[64] = "", extra[96] = "", tunnel[16] = "", script[200] = "",
			     banner[200] = "";
			struct report_entry *e;
			uint16_t port;

			if (!is_el(pt, "port"))
				continue;
			attr(pt, "protocol", proto, sizeof(proto));
			attr(pt, "portid", portid, sizeof(portid));
			port = port_num(portid);
			if (!port || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
				continue;
			for (const xmlNode *k = pt->children; k; k = k->next) {
				char id[64];

				if (is_el(k, "state")) {
					attr(k, "state", state, sizeof(state));
				} else if (is_el(k, "service")) {
					attr(k, "name", svc, sizeof(svc));
					attr(k, "product", product, sizeof(product));
					attr(k, "version", version, sizeof(version));
					attr(k, "extrainfo", extra, sizeof(extra));
					attr(k, "tunnel", tunnel, sizeof(tunnel));
					if (!product[0]) {
						xmlChar *fp = xmlGetProp(k, (const xmlChar *)"servicefp");
						char raw[200];
						bool binary;
						size_t n;

						if (fp) {
							n = fp_response((const char *)fp, raw, sizeof(raw) - 1, &binary);
							raw[n] = '\0';
							if (binary)
								util_escape(raw, n < 48 ? n : 48, banner, sizeof(banner));
							else
								clean(raw, banner, sizeof(banner));
						}
						xmlFree(fp);
					}
				} else if (is_el(k, "script")) {
					attr(k, "id", id, sizeof(id));
					if (!strcmp(id, "smtp-strangeport"))
						attr(k, "output", script, sizeof(script));
				}
			}
			if (strcmp(state, "open"))
				continue;
			e = add(r, address, name, proto, port, (int)xmlGetLineNo(pt));
			if (!e)
				return -ENOMEM;
			snprintf(e->service, sizeof(e->service), "%s%s%s", tunnel[0] ? tunnel : "",
				 tunnel[0] ? "/" : "", svc);
			if (!strcmp(svc, "smpp"))
				e->kind = REPORT_KIND_SMPP;
			else if (!strcmp(svc, "smtp") || !strcmp(svc, "smtps") || !strcmp(svc, "submission"))
				e->kind = standard_smtp(port) ? REPORT_KIND_SMTP : REPORT_KIND_SMTP_NS;
			else
				e->kind = REPORT_KIND_OPEN;
			snprintf(e->check, sizeof(e->check), "nmap -sV: %s", e->service[0] ? e->service : "open port");
			snprintf(e->product, sizeof(e->product), "%s%s%s%s%s%s", product,
				 version[0] ? " " : "", version, extra[0] ? " (" : "", extra, extra[0] ? ")" : "");
			snprintf(e->evidence, sizeof(e->evidence), "%s/%s open, service %s%s%s%s%s%s%s", portid,
				 proto, e->service[0] ? e->service : "unknown", e->product[0] ? ": " : "",
				 e->product, banner[0] ? "; sent: " : "", banner,
				 script[0] ? "; smtp-strangeport: " : "", script);
		}
	}
	return 0;
}

static int seed_of(const char *id, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
		if (!strcmp(id, seeds[i].id) || !strcasecmp(name, seeds[i].name))
			return (int)i;
	return -1;
}

/* per (proto, port) of one host: 0, the index + 1 of its open-port entry, or SEEDED */
#define PORT_SLOTS (2u << 16)
#define SEEDED UINT32_MAX
#define SLOT(udp, port) (((unsigned)(udp) << 16) | (port))

static int parse_nessus_host(const xmlNode *rh, struct report *r, uint32_t *slot)
{
	char address[64] = "", name[128], a[64];
	size_t first = r->n;

	attr(rh, "name", name, sizeof(name));
	for (const xmlNode *c = rh->children; c; c = c->next) {
		if (!is_el(c, "HostProperties"))
			continue;
		for (const xmlNode *t = c->children; t; t = t->next) {
			char tn[32];

			if (!is_el(t, "tag"))
				continue;
			attr(t, "name", tn, sizeof(tn));
			if (!strcmp(tn, "host-ip") && !address[0]) {
				text(t, a, sizeof(a));
				if (!canon_addr(a, address, sizeof(address)))
					address[0] = '\0';
			}
		}
	}
	if (!address[0] && !canon_addr(name, address, sizeof(address)))
		address[0] = '\0';
	/* pass 0: the seed checks; pass 1: other plugins, one entry per port without a seed entry */
	for (int pass = 0; pass < 2; pass++) {
		for (const xmlNode *c = rh->children; c; c = c->next) {
			char sport[16], proto[8], id[16], pname[128], svc[64];
			struct report_entry *e = NULL;
			uint16_t port;
			int s;

			if (!is_el(c, "ReportItem"))
				continue;
			attr(c, "port", sport, sizeof(sport));
			attr(c, "protocol", proto, sizeof(proto));
			attr(c, "pluginID", id, sizeof(id));
			attr(c, "pluginName", pname, sizeof(pname));
			attr(c, "svc_name", svc, sizeof(svc));
			port = port_num(sport);
			if (!port || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
				continue;
			s = seed_of(id, pname);
			if ((s >= 0) != (pass == 0))
				continue;
			if (pass == 1) {
				uint32_t *sl = &slot[SLOT(!strcmp(proto, "udp"), port)];

				if (*sl == SEEDED)
					continue;
				if (*sl) {
					/* another plugin on a port already listed */
					struct report_entry *o = &r->v[*sl - 1];
					size_t n = strlen(o->evidence);

					if (n + strlen(pname) + 16 < sizeof(o->evidence))
						snprintf(o->evidence + n, sizeof(o->evidence) - n, ", %s (%s)",
							 pname, id);
					continue;
				}
			}
			e = add(r, address, name, proto, port, (int)xmlGetLineNo(c));
			if (!e)
				return -ENOMEM;
			slot[SLOT(e->udp, port)] = s >= 0 ? SEEDED : (uint32_t)r->n;
			snprintf(e->service, sizeof(e->service), "%s", svc);
			if (s >= 0) {
				snprintf(e->plugin_id, sizeof(e->plugin_id), "%s", id);
				e->kind = seeds[s].kind;
				snprintf(e->check, sizeof(e->check), "%s", pname[0] ? pname : seeds[s].name);
				for (const xmlNode *k = c->children; k; k = k->next)
					if (is_el(k, "plugin_output"))
						text(k, e->evidence, sizeof(e->evidence));
				if (!e->evidence[0])
					snprintf(e->evidence, sizeof(e->evidence), "%s (%s) on %s/%s", e->check, id,
						 sport, proto);
			} else {
				e->kind = REPORT_KIND_OPEN;
				snprintf(e->check, sizeof(e->check), "open port");
				snprintf(e->evidence, sizeof(e->evidence), "Nessus: %s (%s)", pname, id);
			}
		}
	}
	for (size_t i = first; i < r->n; i++)
		slot[SLOT(r->v[i].udp, r->v[i].port)] = 0;
	return 0;
}

static int walk(const xmlNode *root, struct report *r)
{
	uint32_t *slot = NULL;
	int ret = 0;

	for (const xmlNode *c = root->children; c; c = c->next) {
		if (r->format == REPORT_FMT_NMAP && is_el(c, "host")) {
			r->nhosts++;
			if ((ret = parse_nmap_host(c, r)) < 0)
				break;
		} else if (r->format == REPORT_FMT_NESSUS && is_el(c, "Report")) {
			if (!slot && !(slot = calloc(PORT_SLOTS, sizeof(*slot))))
				return -ENOMEM;
			for (const xmlNode *h = c->children; h && !ret; h = h->next) {
				if (!is_el(h, "ReportHost"))
					continue;
				r->nhosts++;
				ret = parse_nessus_host(h, r, slot);
			}
			if (ret < 0)
				break;
		}
	}
	free(slot);
	return ret;
}

int report_parse(const char *buf, size_t len, const char *name, struct report *out, struct diag *d)
{
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	struct xml_guard g = { 0 };
	struct srcloc loc = { name, 0 };
	xmlParserCtxtPtr c;
	xmlDocPtr doc;
	xmlNodePtr root;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (len > REPORT_MAX_BYTES)
		return diag_err(d, DIAG_CONFIG, &loc, 0, "scanner export larger than %u MiB: refused (export one host)",
				REPORT_MAX_BYTES >> 20);
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
	c = xmlNewParserCtxt();
	if (!c)
		return diag_err(d, DIAG_INTERNAL, &loc, ENOMEM, "XML parser");
	/* no entity declarations at all: nothing to expand, nothing external to fetch */
	c->sax->entityDecl = refuse_entity;
	c->_private = &g;
	doc = xmlCtxtReadMemory(c, buf, (int)len, name, NULL, opts);
	if (g.entity) {
		loc.line = g.line;
		ret = diag_err(d, DIAG_CONFIG, &loc, 0,
			       "entity declaration in a scanner export: refused (neither nmap nor Nessus writes one; an XML bomb or an external entity?)");
		goto out;
	}
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(c);
		char msg[256];

		loc.line = e ? e->line : 0;
		clean(e && e->message ? e->message : "not well-formed", msg, sizeof(msg));
		ret = diag_err(d, DIAG_CONFIG, &loc, 0, "not a well-formed XML document: %s", msg);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (root && !strcmp((const char *)root->name, "nmaprun")) {
		out->format = REPORT_FMT_NMAP;
	} else if (root && !strcmp((const char *)root->name, "NessusClientData_v2")) {
		out->format = REPORT_FMT_NESSUS;
	} else {
		char rn[64];

		clean(root ? (const char *)root->name : "", rn, sizeof(rn));
		loc.line = root ? (int)xmlGetLineNo(root) : 0;
		ret = diag_err(d, DIAG_CONFIG, &loc, 0,
			       "root element <%s> is neither <nmaprun> (nmap -oX) nor <NessusClientData_v2> (.nessus)",
			       rn);
		goto out;
	}
	ret = walk(root, out);
	if (ret < 0)
		diag_err(d, DIAG_INTERNAL, &loc, -ret, "scanner export");
out:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(c);
	if (ret < 0)
		report_fini(out);
	return ret;
}

int report_load(const char *path, struct report *out, struct diag *d)
{
	struct srcloc loc = { path, 0 };
	struct stat st;
	size_t len = 0, cap;
	char *buf;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return diag_err(d, DIAG_CONFIG, &loc, errno, "cannot open the scanner export");
	if (fstat(fd, &st) < 0) {
		ret = diag_err(d, DIAG_CONFIG, &loc, errno, "cannot read the scanner export");
		close(fd);
		return ret;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return diag_err(d, DIAG_CONFIG, &loc, EISDIR, "cannot read the scanner export");
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > REPORT_MAX_BYTES) {
		close(fd);
		return diag_err(d, DIAG_CONFIG, &loc, 0,
				"scanner export of %lld bytes is larger than %u MiB: refused (export one host)",
				(long long)st.st_size, REPORT_MAX_BYTES >> 20);
	}
	/* a pipe or a file that grows: read at most one byte past the limit */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return diag_err(d, DIAG_INTERNAL, &loc, ENOMEM, "scanner export");
	}
	for (;;) {
		ssize_t k;

		if (len == cap) {
			size_t ncap = cap * 2 > (size_t)REPORT_MAX_BYTES + 1 ? (size_t)REPORT_MAX_BYTES + 1 : cap * 2;
			char *nb;

			if (ncap <= cap)
				break;	/* at the limit: report_parse() refuses it */
			nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				close(fd);
				return diag_err(d, DIAG_INTERNAL, &loc, ENOMEM, "scanner export");
			}
			buf = nb;
			cap = ncap;
		}
		k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			ret = diag_err(d, DIAG_CONFIG, &loc, errno, "cannot read the scanner export");
			free(buf);
			close(fd);
			return ret;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	ret = report_parse(buf, len, path, out, d);
	free(buf);
	return ret;
}

void report_fini(struct report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* ---- which hosts are this one ---- */

void report_hosts_init(struct report_hosts *h)
{
	memset(h, 0, sizeof(*h));
}

void report_hosts_fini(struct report_hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

int report_hosts_add(struct report_hosts *h, const char *s)
{
	char canon[64], *v;

	if (canon_addr(s, canon, sizeof(canon)))
		s = canon;
	for (size_t i = 0; i < h->n; i++)
		if (!strcasecmp(h->v[i], s))
			return 0;
	if (util_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(*h->v)) < 0)
		return -ENOMEM;
	v = strdup(s);
	if (!v)
		return -ENOMEM;
	h->v[h->n++] = v;
	return 0;
}

int report_hosts_local(struct report_hosts *h, struct diag *d)
{
	struct ifaddrs *ifa, *i;
	int ret = 0;

	if (getifaddrs(&ifa) < 0)
		return diag_err(d, DIAG_NETLINK, NULL, errno, "cannot list the interface addresses");
	for (i = ifa; i && !ret; i = i->ifa_next) {
		enum cidr_family f;
		u128 a;
		char buf[64];

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			f = CIDR_V4;
			a = cidr_from_bytes(f, (const uint8_t *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			f = CIDR_V6;
			a = cidr_from_bytes(f, ((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr.s6_addr);
		} else {
			continue;
		}
		cidr_addr_str(f, a, buf, sizeof(buf));
		ret = report_hosts_add(h, buf);
	}
	freeifaddrs(ifa);
	if (ret)
		return diag_err(d, DIAG_INTERNAL, NULL, -ret, "host addresses");
	return 0;
}

bool report_hosts_match(const struct report_hosts *h, const struct report_entry *e)
{
	for (size_t i = 0; i < h->n; i++)
		if ((e->address[0] && !strcmp(h->v[i], e->address)) ||
		    (e->host[0] && !strcasecmp(h->v[i], e->host)))
			return true;
	return false;
}

void report_keep(struct report *r, const struct report_hosts *h)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (report_hosts_match(h, &r->v[i]))
			r->v[k++] = r->v[i];
		else
			r->nskipped++;
	}
	r->n = k;
}

int report_port_keys(const struct report *r, struct audit_port_key **keys, size_t *n)
{
	uint8_t *seen = calloc(PORT_SLOTS / 8, 1);

	*n = 0;
	*keys = calloc(r->n ? r->n : 1, sizeof(**keys));
	if (!*keys || !seen) {
		free(*keys);
		*keys = NULL;
		free(seen);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++) {
		unsigned k = SLOT(r->v[i].udp, r->v[i].port);

		seen[k / 8] |= (uint8_t)(1u << (k % 8));
	}
	/* sorted: TCP before UDP, by port (report_port_find() bisects) */
	for (unsigned k = 0; k < PORT_SLOTS; k++) {
		if (!(seen[k / 8] & (1u << (k % 8))))
			continue;
		(*keys)[*n].udp = k >> 16;
		(*keys)[*n].port = (uint16_t)(k & 0xffff);
		(*n)++;
	}
	free(seen);
	return 0;
}

const struct audit_port *report_port_find(const struct audit_port *v, size_t n,
					  const struct report_entry *e)
{
	unsigned want = SLOT(e->udp, e->port);
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		unsigned k = SLOT(v[mid].key.udp, v[mid].key.port);

		if (k == want)
			return &v[mid];
		if (k < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- judgement ---- */

const char *report_state_str(enum report_state s)
{
	switch (s) {
	case REPORT_CLOSED: return "closed";
	case REPORT_RESTRICTED: return "restricted";
	case REPORT_STILL_OPEN: return "still open";
	case REPORT_NOT_EVALUATED: return "not evaluated";
	case REPORT_NSTATES: break;
	}
	return "?";
}

const char *report_finding_id(const struct report_entry *e)
{
	switch (e->kind) {
	case REPORT_KIND_SMPP: return "smpp-exposed";
	case REPORT_KIND_SMTP: return standard_smtp(e->port) ? "smtp-standard-port" : "smtp-nonstandard-port";
	case REPORT_KIND_SMTP_NS: return "smtp-nonstandard-port";
	case REPORT_KIND_SMTP_FP: return "smtp-fingerprint";
	case REPORT_KIND_OPEN: break;
	}
	return "open-port";
}

/* the audit's severity of each finding while reachable from every source */
static enum audit_sev open_sev(const struct report_entry *e)
{
	switch (e->kind) {
	case REPORT_KIND_SMPP: return AUDIT_HIGH;
	case REPORT_KIND_SMTP: return standard_smtp(e->port) ? AUDIT_MEDIUM : AUDIT_HIGH;
	case REPORT_KIND_SMTP_NS: return AUDIT_HIGH;
	case REPORT_KIND_SMTP_FP: return AUDIT_MEDIUM;
	case REPORT_KIND_OPEN: break;
	}
	return AUDIT_LOW;
}

/* the audit's derivation (audit_port_reach()) for one family */
static enum report_state fam_state(const struct audit_port *now, int fi)
{
	bool fam[2] = { fi == 0, fi == 1 };

	switch (audit_port_reach(now, fam)) {
	case AUDIT_REACH_CLOSED: return REPORT_CLOSED;
	case AUDIT_REACH_RESTRICTED: return REPORT_RESTRICTED;
	case AUDIT_REACH_UNKNOWN: return REPORT_NOT_EVALUATED;
	case AUDIT_REACH_OPEN:
	case AUDIT_REACH_ALL: break;
	}
	return REPORT_STILL_OPEN;
}

#define APPEND(buf, ...)                                                                     \
	do {                                                                                 \
		size_t o_ = strlen(buf);                                                     \
		if (o_ + 1 < sizeof(buf))                                                    \
			snprintf((buf) + o_, sizeof(buf) - o_, __VA_ARGS__);                 \
	} while (0)

static void why_family(const struct audit_port *now, int fi, const char *proto, char *buf, size_t len)
{
	const char *fam = fi ? "IPv6" : "IPv4";
	const struct audit_reach_fact *x = &now->reach[fi];
	uint16_t port = now->key.port;
	char svc[100];

	if (x->service[0])
		snprintf(svc, sizeof(svc), "; service '%s'", x->service);
	else
		svc[0] = '\0';
	/* published (a DNAT to another host): no local listener decides, the tables do */
	if (!x->published && !now->listening[fi] && !now->listening[!fi] && x->local_port)
		snprintf(buf, len, "%s: nothing listens on %u/%s from the network (%s)", fam, x->local_port, proto,
			 x->nat);
	else if (!x->published && !now->listening[fi] && !now->listening[!fi])
		snprintf(buf, len, "%s: nothing listens on %u/%s from the network", fam, port, proto);
	else if (!x->published && !now->listening[fi])
		snprintf(buf, len, "%s: no listener takes %u/%s over %s", fam, port, proto, fam);
	else if (x->state == AUDIT_REACH_CLOSED)
		snprintf(buf, len, "%s: %u/%s is dropped for every remote source (%s%s)", fam, port, proto,
			 x->by, svc);
	else if (x->state == AUDIT_REACH_RESTRICTED)
		snprintf(buf, len, "%s: %u/%s is accepted only from %llu source range%s%s (%s; %s%s)", fam, port,
			 proto, (unsigned long long)x->nranges, x->nranges == 1 ? "" : "s",
			 x->partial ? " at most" : "", x->sources, x->by, svc);
	else if (x->state == AUDIT_REACH_UNKNOWN)
		snprintf(buf, len, "%s: not evaluated: %s", fam, x->unknown);
	else
		snprintf(buf, len, "%s: no table drops %u/%s", fam, port, proto);
	if (((x->local_port && now->listening[fi]) || x->published) && !strstr(buf, x->nat) && strlen(buf) + 3 < len)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%s)", x->nat);
}

void report_judge(const struct report_entry *e, const struct audit_port *now,
		  const struct audit_finding *live, const struct policy *p, const char *config_path,
		  const char *table, struct report_outcome *out)
{
	(void)table;
	const char *proto = e->udp ? "udp" : "tcp";
	struct cidr c;
	bool fam[2] = { true, true };
	const struct policy_service *ps;
	bool published;

	memset(out, 0, sizeof(*out));
	out->finding = report_finding_id(e);
	if (e->address[0] && cidr_parse(e->address, &c) == CIDR_OK) {
		fam[0] = c.family == CIDR_V4;
		fam[1] = c.family == CIDR_V6;
	}
	if (!now) {
		out->state = REPORT_STILL_OPEN;
		snprintf(out->evidence, sizeof(out->evidence), "the state of %u/%s could not be evaluated",
			 e->port, proto);
	} else {
		out->state = REPORT_CLOSED;
		for (int fi = 0; fi < 2; fi++) {
			char why[400];
			enum report_state s;

			if (!fam[fi])
				continue;
			s = fam_state(now, fi);
			if (s > out->state)
				out->state = s;
			if (s == REPORT_RESTRICTED && now->reach[fi].nranges > out->nsources)
				out->nsources = now->reach[fi].nranges;
			why_family(now, fi, proto, why, sizeof(why));
			APPEND(out->evidence, "%s%s", out->evidence[0] ? "; " : "", why);
		}
		if (now->process[0])
			APPEND(out->evidence, "; listener %s", now->process);
		if (now->probed[0] && out->state != REPORT_CLOSED) {
			APPEND(out->evidence, "; %s answers now", now->probed);
			if (now->software[0])
				APPEND(out->evidence, " (%s)", now->software);
			if (now->banner[0])
				APPEND(out->evidence, ": %s", now->banner);
		}
	}
	if (out->state == REPORT_CLOSED || out->state == REPORT_RESTRICTED) {
		out->sev = AUDIT_INFO;
		if (out->state == REPORT_CLOSED)
			snprintf(out->fix, sizeof(out->fix),
				 "none: a scan from outside no longer reaches %u/%s; rescan to close the scanner's finding",
				 e->port, proto);
		else
			snprintf(out->fix, sizeof(out->fix),
				 "none, as long as the allowlist (%llu source%s) holds only the partners you mean: a scan from any other source no longer reaches %u/%s",
				 (unsigned long long)out->nsources, out->nsources == 1 ? "" : "s", e->port,
				 proto);
		return;
	}
	out->sev = live ? live->sev : open_sev(e);
	if (out->state == REPORT_NOT_EVALUATED && !live && out->sev > AUDIT_LOW)
		out->sev--;	/* as the audit does: never judged open, nor closed */
	if (live && live->evidence[0] && !strstr(out->evidence, live->evidence))
		APPEND(out->evidence, "; audit: %s", live->evidence);
	ps = p ? policy_find_port(p, e->udp ? POLICY_UDP : POLICY_TCP, e->port) : NULL;
	published = now && ((fam[0] && now->reach[0].published) || (fam[1] && now->reach[1].published));
	if (published && ps && !(p->hooks & POLICY_HOOK_FORWARD)) {
		snprintf(out->fix, sizeof(out->fix),
			 "%u/%s is published through NAT and the policy's service '%s' (%s:%d) does not reach it: its hooks lack \"forward\"; add it (hooks = [\"input\", \"forward\"]; in the portlock group), then 'portlock apply --confirm 120' and 'portlock confirm'",
			 e->port, proto, ps->name, ps->file ? ps->file : "?", ps->line);
	} else if (published && out->state == REPORT_NOT_EVALUATED) {
		if (ps)
			snprintf(out->fix, sizeof(out->fix),
				 "%u/%s is published through NAT: the policy's service '%s' (%s:%d) applies to it on the forward hook when hooks include \"forward\" (portlock group, the default); the forward path could not be evaluated (the evidence names the rule): check from a source outside the allowlist",
				 e->port, proto, ps->name, ps->file ? ps->file : "?", ps->line);
		else
			snprintf(out->fix, sizeof(out->fix),
				 "%u/%s is published through NAT: restrict it with a service covering it and hooks including \"forward\" (portlock group, the default); the forward path could not be evaluated (the evidence names the rule): check from outside",
				 e->port, proto);
	} else if (ps) {
		snprintf(out->fix, sizeof(out->fix),
			 "the policy already covers %u/%s (service '%s', %s:%d) but the live table does not restrict it: 'portlock apply --confirm 120', check access, then 'portlock confirm'",
			 e->port, proto, ps->name, ps->file ? ps->file : "?", ps->line);
	} else {
		const char *expect = e->kind == REPORT_KIND_SMPP ? "smpp"
				     : e->kind == REPORT_KIND_OPEN ? NULL
								    : (e->port == 465 ? "smtps" : "smtp");
		const char *base = e->kind == REPORT_KIND_SMPP ? "smpp"
				   : e->kind == REPORT_KIND_OPEN ? "port"
				   : standard_smtp(e->port) && e->kind != REPORT_KIND_SMTP_NS ? "smtp"
											      : "stray_smtp";
		char name[64];

		snprintf(name, sizeof(name), "%s_%u", base, e->port);
		audit_snippet(out->fix, sizeof(out->fix), p != NULL, config_path, name, expect, e->udp, e->port);
	}
	if (e->kind == REPORT_KIND_SMTP_FP)
		APPEND(out->fix, "; a hidden banner does not defeat behavioural fingerprints: only source filtering does");
}
