// SPDX-License-Identifier: GPL-2.0-or-later
/* Rendering of live state and plans for people (nft syntax) and programs (JSON). */
#include "render.h"

#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "cidr.h"
#include "nft_model.h"
#include "nft_plan.h"

static void set_elems_text(const struct nm_set *s, FILE *f)
{
	enum cidr_family fam = s->key_len == 4 ? CIDR_V4 : CIDR_V6;
	char buf[100];
	size_t n = s->kind == NM_SET_PORTS ? s->nports
		   : (s->kind == NM_SET_V4 || s->kind == NM_SET_V6) ? s->ranges.n
		   : (s->kind == NM_SET_VMAP4 || s->kind == NM_SET_VMAP6 || s->kind == NM_SET_PORTMAP) ? s->nvmap : 0;

	if (s->kind == NM_SET_OTHER) {
		if (s->nelems)
			fprintf(f, "\t\t# %zu elements of a type portlock does not display\n", s->nelems);
		return;
	}
	if (!n)
		return;
	fprintf(f, "\t\telements = {");
	for (size_t i = 0; i < n; i++) {
		const char *sep = i ? "," : "";

		if (s->kind == NM_SET_PORTS)
			fprintf(f, "%s %u", sep, s->ports[i]);
		else if (s->kind == NM_SET_V4 || s->kind == NM_SET_V6)
			fprintf(f, "%s\n\t\t\t%s", sep, range_str(fam, &s->ranges.r[i], buf, sizeof(buf)));
		else if (s->kind == NM_SET_PORTMAP)
			fprintf(f, "%s\n\t\t\t%u : jump %s", sep, (unsigned)s->vmap[i].r.lo,
				s->vmap[i].chain ? s->vmap[i].chain : "?");
		else
			fprintf(f, "%s\n\t\t\t%s : jump %s", sep,
				range_str(fam, &s->vmap[i].r, buf, sizeof(buf)),
				s->vmap[i].chain ? s->vmap[i].chain : "?");
	}
	fprintf(f, s->kind == NM_SET_PORTS ? " }\n" : "\n\t\t}\n");
}

void render_live_text(const struct nm_live *l, FILE *f)
{
	const struct nm_table *t = &l->t;
	char def[200];

	fprintf(f, "# generation %u\n", l->genid);
	if (!t->exists) {
		fprintf(f, "# table inet %s does not exist\n", t->name);
	} else {
		fprintf(f, "table inet %s {\n", t->name);
		if (t->flags)
			fprintf(f, "\t# table flags 0x%x (portlock never sets flags)\n", t->flags);
		for (size_t i = 0; i < t->nsets; i++) {
			const struct nm_set *s = &t->sets[i];

			nm_set_def_str(s, def, sizeof(def));
			fprintf(f, "\t%s %s {\n\t\t%s\n", s->flags & NFT_SET_MAP ? "map" : "set", s->name,
				def);
			set_elems_text(s, f);
			fprintf(f, "\t}\n\n");
		}
		for (size_t i = 0; i < t->nchains; i++) {
			const struct nm_chain *c = &t->chains[i];

			fprintf(f, "\tchain %s {\n", c->name);
			if (c->base) {
				nm_chain_def_str(c, def, sizeof(def));
				fprintf(f, "\t\t%s\n", def);
			}
			for (size_t k = 0; k < t->nrules; k++)
				if (!strcmp(t->rules[k].chain, c->name))
					fprintf(f, "\t\t%s # handle %llu\n", t->rules[k].text,
						(unsigned long long)t->rules[k].handle);
			fprintf(f, "\t}\n%s", i + 1 < t->nchains ? "\n" : "");
		}
		fprintf(f, "}\n");
	}
	if (l->nforeign) {
		fprintf(f, "# other tables with base chains on prerouting/input/forward (their drops may\n"
			   "# restrict further; portlock does not evaluate them):\n");
		for (size_t i = 0; i < l->nforeign; i++) {
			const struct nm_foreign_hook *h = &l->foreign[i];

			fprintf(f, "#   table %s %s chain %s: hook %s priority %d policy %s\n", h->family,
				h->table, h->chain, nm_hook_str(h->hooknum), h->prio,
				h->policy == NF_DROP ? "drop" : "accept");
		}
	}
}

json_t *render_live_json(const struct nm_live *l)
{
	const struct nm_table *t = &l->t;
	json_t *o = json_object(), *sets = json_array(), *chains = json_array(), *rules = json_array();
	json_t *foreign = json_array();
	char buf[200];

	json_object_set_new(o, "generation", json_integer(l->genid));
	json_object_set_new(o, "table", json_string(t->name));
	json_object_set_new(o, "family", json_string("inet"));
	json_object_set_new(o, "exists", json_boolean(t->exists));
	json_object_set_new(o, "flags", json_integer(t->flags));
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *s = &t->sets[i];
		enum cidr_family fam = s->key_len == 4 ? CIDR_V4 : CIDR_V6;
		json_t *so = json_object(), *el = json_array();

		nm_set_def_str(s, buf, sizeof(buf));
		json_object_set_new(so, "name", json_string(s->name));
		json_object_set_new(so, "definition", json_string(buf));
		json_object_set_new(so, "kernel_elements", json_integer((json_int_t)s->nelems));
		if (s->kind == NM_SET_PORTS)
			for (size_t k = 0; k < s->nports; k++)
				json_array_append_new(el, json_integer(s->ports[k]));
		else if (s->kind == NM_SET_V4 || s->kind == NM_SET_V6)
			for (size_t k = 0; k < s->ranges.n; k++)
				json_array_append_new(el, json_string(range_str(fam, &s->ranges.r[k], buf, sizeof(buf))));
		else if (s->kind == NM_SET_VMAP4 || s->kind == NM_SET_VMAP6)
			for (size_t k = 0; k < s->nvmap; k++)
				json_array_append_new(el, json_pack("{s:s,s:s}", "range",
					range_str(fam, &s->vmap[k].r, buf, sizeof(buf)), "jump",
					s->vmap[k].chain ? s->vmap[k].chain : "?"));
		else if (s->kind == NM_SET_PORTMAP)
			for (size_t k = 0; k < s->nvmap; k++)
				json_array_append_new(el, json_pack("{s:I,s:s}", "port",
					(json_int_t)s->vmap[k].r.lo, "jump",
					s->vmap[k].chain ? s->vmap[k].chain : "?"));
		json_object_set_new(so, "elements", el);
		json_array_append_new(sets, so);
	}
	for (size_t i = 0; i < t->nchains; i++) {
		const struct nm_chain *c = &t->chains[i];
		json_t *co = json_object();

		json_object_set_new(co, "name", json_string(c->name));
		json_object_set_new(co, "base", json_boolean(c->base));
		if (c->base) {
			json_object_set_new(co, "hook", json_string(nm_hook_str(c->hooknum)));
			json_object_set_new(co, "priority", json_integer(c->prio));
			json_object_set_new(co, "policy", json_string(c->policy == NF_DROP ? "drop" : "accept"));
		}
		json_array_append_new(chains, co);
	}
	for (size_t i = 0; i < t->nrules; i++)
		json_array_append_new(rules, json_pack("{s:s,s:I,s:s}", "chain", t->rules[i].chain,
						       "handle", (json_int_t)t->rules[i].handle,
						       "rule", t->rules[i].text));
	for (size_t i = 0; i < l->nforeign; i++) {
		const struct nm_foreign_hook *h = &l->foreign[i];

		json_array_append_new(foreign, json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "family", h->family,
			"table", h->table, "chain", h->chain, "hook", nm_hook_str(h->hooknum),
			"priority", h->prio, "policy", h->policy == NF_DROP ? "drop" : "accept"));
	}
	json_object_set_new(o, "sets", sets);
	json_object_set_new(o, "chains", chains);
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "foreign_hooks", foreign);
	return o;
}

void render_plan_counts(const struct plan *pl, char *buf, size_t len)
{
	const struct plan_counts *n = &pl->n;
	size_t o = 0;

#define C(v, sign, what)                                                                     \
	if ((v) && o < len)                                                                  \
		o += (size_t)snprintf(buf + o, len - o, "%s%s%zu %s", o ? ", " : "", sign,    \
				      (size_t)(v), what);
	C(n->tables, "+", "table(s)");
	C(n->tables_del, "-", "table(s)");
	C(n->chains_add, "+", "chain(s)");
	C(n->chains_del, "-", "chain(s)");
	C(n->sets_add, "+", "set(s)");
	C(n->sets_del, "-", "set(s)");
	C(n->elems_add, "+", "element(s)");
	C(n->elems_del, "-", "element(s)");
	C(n->rules_add, "+", "rule(s)");
	C(n->rules_del, "-", "rule(s)");
#undef C
	if (!o && len)
		snprintf(buf, len, "no changes");
}

void render_plan_text(const struct plan *pl, FILE *f)
{
	char counts[400];

	for (size_t i = 0; i < pl->nlines; i++)
		fprintf(f, "%c %s\n", pl->lines[i].sign, pl->lines[i].text);
	if (pl->elided)
		fprintf(f, "  ... %zu more element change%s not shown (-v shows all)\n", pl->elided,
			pl->elided == 1 ? "" : "s");
	render_plan_counts(pl, counts, sizeof(counts));
	fprintf(f, "%s\n", counts);
}

json_t *render_plan_json(const struct plan *pl)
{
	json_t *o = json_object(), *lines = json_array();
	const struct plan_counts *n = &pl->n;

	for (size_t i = 0; i < pl->nlines; i++)
		json_array_append_new(lines, json_pack("{s:s%,s:s}", "op", &pl->lines[i].sign, (size_t)1,
						       "object", pl->lines[i].text));
	json_object_set_new(o, "table", json_string(pl->table));
	json_object_set_new(o, "changes", lines);
	json_object_set_new(o, "changes_not_listed", json_integer((json_int_t)pl->elided));
	json_object_set_new(o, "counts", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"tables", (json_int_t)n->tables, "chains_added", (json_int_t)n->chains_add,
		"chains_removed", (json_int_t)n->chains_del, "sets_added", (json_int_t)n->sets_add,
		"sets_removed", (json_int_t)n->sets_del, "elements_added", (json_int_t)n->elems_add,
		"elements_removed", (json_int_t)n->elems_del, "rules_added", (json_int_t)n->rules_add,
		"rules_removed", (json_int_t)n->rules_del));
	json_object_set_new(o, "in_sync", json_boolean(plan_empty(pl)));
	return o;
}
