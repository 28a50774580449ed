// SPDX-License-Identifier: GPL-2.0-or-later
/* Rendering of a change's impact (see render_impact.h). */
#include "render_impact.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "impact.h"
#include "policy.h"

static void endpoint(enum cidr_family f, u128 a, uint16_t port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	cidr_addr_str(f, a, s, sizeof(s));
	snprintf(buf, len, f == CIDR_V6 ? "[%s]:%u" : "%s:%u", s, port);
}

static void ago(int64_t now, int64_t t, char *buf, size_t len)
{
	int64_t d = now - t;

	if (!t) {
		snprintf(buf, len, "at an unknown time");
		return;
	}
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, len, "%" PRId64 " s ago", d);
	else if (d < 2 * 3600)
		snprintf(buf, len, "%" PRId64 " min ago", d / 60);
	else if (d < 2 * 86400)
		snprintf(buf, len, "%" PRId64 " h ago", d / 3600);
	else
		snprintf(buf, len, "%" PRId64 " days ago", d / 86400);
}

static void conns_text(const struct policy *p, const struct impact *im, size_t i, size_t n,
		       bool done, FILE *f)
{
	const struct policy_service *s = &p->svcs[im->conns[i].svc];

	fprintf(f, "  %s%s: %s %zu established connection%s:", s->name,
		s->critical ? " (critical)" : "", done ? "cut" : "would cut", n, n == 1 ? "" : "s");
	for (size_t k = i; k < i + n; k++) {
		const struct impact_conn *c = &im->conns[k];
		char src[80], to[80];

		endpoint(c->family, c->src, c->sport, src, sizeof(src));
		fprintf(f, "%s %s -> %u%s (%s", k == i ? "" : ",", src, c->port,
			c->proto == POLICY_UDP ? "/udp" : "", s->name);
		if (c->dnat) {
			endpoint(c->family, c->to, c->to_port, to, sizeof(to));
			fprintf(f, ", %s to %s", c->forwarded ? "forwarded" : "DNAT", to);
		}
		fputc(')', f);
	}
	fputc('\n', f);
}

/* One observed source: its entries (one per port) from im->seen[i], n of them. */
static void source_text(const struct impact *im, size_t i, size_t n, int64_t now, FILE *f)
{
	const struct impact_seen *e = &im->seen[i];
	char a[INET6_ADDRSTRLEN], when[48];
	uint64_t packets = 0;
	int64_t last = 0;

	cidr_addr_str(e->family, e->src, a, sizeof(a));
	fprintf(f, " %s (port%s", a, n == 1 ? "" : "s");
	for (size_t k = i; k < i + n; k++) {
		fprintf(f, "%s %u", k == i ? "" : ",", im->seen[k].port);
		packets += im->seen[k].packets;
		if (im->seen[k].last_seen > last)
			last = im->seen[k].last_seen;
	}
	ago(now, last, when, sizeof(when));
	fprintf(f, ", last seen %s, %" PRIu64 " packet%s)", when, packets, packets == 1 ? "" : "s");
}

/* A service's observed sources, from im->seen[i], n entries (sorted by source, then port). */
static void seen_text(const struct policy *p, const struct impact *im, size_t i, size_t n,
		      int64_t now, bool done, FILE *f)
{
	const struct policy_service *s = &p->svcs[im->seen[i].svc];
	size_t nsrc = 0;

	for (size_t k = i; k < i + n; k++)
		nsrc += k == i || im->seen[k].family != im->seen[k - 1].family ||
			im->seen[k].src != im->seen[k - 1].src;
	fprintf(f, "  %s: %s observed source%s:", s->name,
		done ? "now refuses" : "would start refusing", nsrc == 1 ? "" : "s");
	for (size_t k = i; k < i + n;) {
		size_t m = 1;

		while (k + m < i + n && im->seen[k + m].family == im->seen[k].family &&
		       im->seen[k + m].src == im->seen[k].src)
			m++;
		if (k > i)
			fputc(',', f);
		source_text(im, k, m, now, f);
		k += m;
	}
	fputc('\n', f);
}

void render_impact_text(const struct policy *p, const struct impact *im, int64_t now, bool done,
			FILE *f)
{
	if (!im->nconns && !im->nseen) {
		fprintf(f, "impact: no established connection %s cut, no observed source newly refused\n",
			done ? "was" : "would be");
	} else {
		fprintf(f, "impact:\n");
		for (size_t i = 0; i < im->nconns;) {
			size_t n = 1;

			while (i + n < im->nconns && im->conns[i + n].svc == im->conns[i].svc)
				n++;
			conns_text(p, im, i, n, done, f);
			i += n;
		}
		for (size_t i = 0; i < im->nseen;) {
			size_t n = 1;

			while (i + n < im->nseen && im->seen[i + n].svc == im->seen[i].svc)
				n++;
			seen_text(p, im, i, n, now, done, f);
			i += n;
		}
	}
	if (!im->conntrack_ok)
		fprintf(f, "impact: conntrack not read (%s): forwarded (DNAT) connections are not judged\n",
			im->conntrack_why[0] ? im->conntrack_why : "unavailable");
	if (!im->seen_ok)
		fprintf(f, "impact: the seen sets were not read (%s): observed sources are not judged\n",
			im->seen_why[0] ? im->seen_why : "unavailable");
}

static json_t *svc_obj(json_t *svcs, const struct policy *p, size_t svc)
{
	const struct policy_service *s = &p->svcs[svc];
	json_t *o;

	for (size_t k = 0; k < json_array_size(svcs); k++) {
		o = json_array_get(svcs, k);
		if (!strcmp(json_string_value(json_object_get(o, "service")), s->name))
			return o;
	}
	o = json_pack("{s:s,s:b,s:s,s:[],s:[]}", "service", s->name, "critical", s->critical, "mode",
		      s->mode == POLICY_MODE_OBSERVE ? "observe" : "enforce", "connections",
		      "refused_sources");
	json_array_append_new(svcs, o);
	return o;
}

json_t *render_impact_json(const struct policy *p, const struct impact *im)
{
	json_t *o = json_object(), *svcs = json_array();
	char a[INET6_ADDRSTRLEN];

	json_object_set_new(o, "conntrack", json_boolean(im->conntrack_ok));
	json_object_set_new(o, "conntrack_error",
			    im->conntrack_ok ? json_null() : json_string(im->conntrack_why));
	json_object_set_new(o, "seen_sets", json_boolean(im->seen_ok));
	json_object_set_new(o, "seen_error", im->seen_ok ? json_null() : json_string(im->seen_why));
	json_object_set_new(o, "connections_cut", json_integer((json_int_t)im->nconns));
	json_object_set_new(o, "critical_connections_cut", json_integer((json_int_t)im->ncritical));
	json_object_set_new(o, "sources_newly_refused", json_integer((json_int_t)im->nseen));
	for (size_t i = 0; i < im->nconns; i++) {
		const struct impact_conn *c = &im->conns[i];
		json_t *e;

		cidr_addr_str(c->family, c->src, a, sizeof(a));
		e = json_pack("{s:s,s:s,s:s,s:i,s:i,s:s}", "family", c->family == CIDR_V4 ? "ipv4" : "ipv6",
			      "protocol", c->proto == POLICY_UDP ? "udp" : "tcp", "source", a,
			      "source_port", (int)c->sport, "port", (int)c->port, "path",
			      c->forwarded ? "forward" : "input");
		if (c->dnat) {
			cidr_addr_str(c->family, c->to, a, sizeof(a));
			json_object_set_new(e, "dnat_to", json_string(a));
			json_object_set_new(e, "dnat_port", json_integer(c->to_port));
		} else {
			json_object_set_new(e, "dnat_to", json_null());
			json_object_set_new(e, "dnat_port", json_null());
		}
		json_array_append_new(json_object_get(svc_obj(svcs, p, c->svc), "connections"), e);
	}
	for (size_t i = 0; i < im->nseen; i++) {
		const struct impact_seen *e = &im->seen[i];

		cidr_addr_str(e->family, e->src, a, sizeof(a));
		json_array_append_new(json_object_get(svc_obj(svcs, p, e->svc), "refused_sources"),
				      json_pack("{s:s,s:s,s:i,s:I,s:I,s:o}", "family",
						e->family == CIDR_V4 ? "ipv4" : "ipv6", "source", a, "port",
						(int)e->port, "packets", (json_int_t)e->packets, "bytes",
						(json_int_t)e->bytes, "last_seen",
						e->last_seen ? json_integer(e->last_seen) : json_null()));
	}
	json_object_set_new(o, "services", svcs);
	return o;
}
