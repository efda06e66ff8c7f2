#include "output.h"

#include <string.h>

#include <json-c/json.h>

static const char *
str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_string)
		return "";
	return json_object_get_string(v);
}

static int
flag(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static json_object *
array(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_array)
		return NULL;
	return v;
}

static void
print_token(FILE *out, json_object *t)
{
	fprintf(out, "token %s", str(t, "label"));
	if (!flag(t, "present")) {
		fprintf(out, " (not present)\n");
		return;
	}
	fprintf(out, " (serial %s, %s %s)%s%s%s%s%s\n", str(t, "serial"), str(t, "manufacturer"),
	        str(t, "model"), flag(t, "pin_pad") ? ", PIN pad" : "",
	        flag(t, "pin_count_low") ? ", PIN count low" : "",
	        flag(t, "pin_final_try") ? ", FINAL PIN TRY" : "",
	        flag(t, "pin_locked") ? ", PIN LOCKED" : "", flag(t, "logged_in") ? ", logged in" : "");
}

static void
print_identity(FILE *out, json_object *id)
{
	json_object *emails = array(id, "emails"), *usage = array(id, "key_usage");
	size_t i;

	fprintf(out, "  %s (%s key on %s)%s\n", str(id, "label"), str(id, "key_type"),
	        str(id, "token"), flag(id, "valid_now") ? "" : "  NOT VALID NOW");
	fprintf(out, "    subject   %s\n", str(id, "subject"));
	for (i = 0; emails != NULL && i < json_object_array_length(emails); i++)
		fprintf(out, "    email     %s\n",
		        json_object_get_string(json_object_array_get_idx(emails, i)));
	fprintf(out, "    issuer    %s\n", str(id, "issuer"));
	fprintf(out, "    valid     %s to %s\n", str(id, "not_before"), str(id, "not_after"));
	fprintf(out, "    usage    ");
	for (i = 0; usage != NULL && i < json_object_array_length(usage); i++)
		fprintf(out, " %s", json_object_get_string(json_object_array_get_idx(usage, i)));
	fprintf(out, "\n    key       %s\n", str(id, "key_uri"));
}

void
print_status(FILE *out, const char *json)
{
	json_object *root = json_tokener_parse(json), *tokens, *ids;
	size_t i, j;

	if (root == NULL) {
		fprintf(out, "%s\n", json);
		return;
	}
	tokens = array(root, "tokens");
	ids = array(root, "identities");
	if (tokens == NULL || json_object_array_length(tokens) == 0)
		fprintf(out, "no tokens\n");
	for (i = 0; tokens != NULL && i < json_object_array_length(tokens); i++) {
		json_object *t = json_object_array_get_idx(tokens, i);

		print_token(out, t);
		for (j = 0; ids != NULL && j < json_object_array_length(ids); j++) {
			json_object *id = json_object_array_get_idx(ids, j);

			if (strcmp(str(id, "token_serial"), str(t, "serial")) == 0 &&
			    strcmp(str(id, "token"), str(t, "label")) == 0)
				print_identity(out, id);
		}
	}
	json_object_put(root);
}

void
print_import(FILE *out, const char *file, const char *json)
{
	json_object *root = json_tokener_parse(json), *v;
	int seen = 0, added = 0;

	if (root != NULL) {
		if (json_object_object_get_ex(root, "certificates", &v))
			seen = json_object_get_int(v);
		if (json_object_object_get_ex(root, "added", &v))
			added = json_object_get_int(v);
	}
	fprintf(out, "%s: %d certificate%s, %d new\n", file, seen, seen == 1 ? "" : "s", added);
	json_object_put(root);
}

static const char *
verdict_words(const char *v)
{
	if (strcmp(v, "valid") == 0)
		return "valid";
	if (strcmp(v, "invalid") == 0)
		return "NOT VALID: the message was changed after it was signed";
	if (strcmp(v, "untrusted") == 0)
		return "NOT TRUSTED: the signer's certificate does not lead to a trusted authority";
	if (strcmp(v, "expired") == 0)
		return "NOT VALID NOW: a certificate has expired or is not yet valid";
	if (strcmp(v, "revoked") == 0)
		return "REVOKED: the signer's certificate was revoked";
	if (strcmp(v, "mismatch") == 0)
		return "MISMATCH: the signer is not the sender named in From:";
	return v;
}

void
print_report(FILE *out, const char *json)
{
	json_object *root = json_tokener_parse(json), *layers, *signer, *reasons;
	size_t i, k;

	if (root == NULL) {
		fprintf(out, "%s\n", json);
		return;
	}
	layers = array(root, "layers");
	if (layers == NULL || json_object_array_length(layers) == 0)
		fprintf(out, "not signed, not encrypted\n");
	for (i = 0; layers != NULL && i < json_object_array_length(layers); i++) {
		json_object *l = json_object_array_get_idx(layers, i);

		if (strcmp(str(l, "type"), "encrypted") == 0) {
			fprintf(out, "Encrypted with %s%s\n", str(l, "cipher"),
			        flag(l, "integrity_protected") ? ""
			                                       : " (without integrity protection)");
			continue;
		}
		if (!json_object_object_get_ex(l, "signer", &signer))
			signer = NULL;
		fprintf(out, "Signed by %s: %s\n", signer != NULL ? str(signer, "email") : "?",
		        verdict_words(str(l, "verdict")));
		reasons = array(l, "reasons");
		for (k = 0; reasons != NULL && k < json_object_array_length(reasons); k++)
			fprintf(out, "  reason: %s\n",
			        json_object_get_string(json_object_array_get_idx(reasons, k)));
		if (str(l, "signing_time")[0] != '\0')
			fprintf(out, "  signing time (as the signer states it): %s\n",
			        str(l, "signing_time"));
	}
	if (json_object_object_get_ex(root, "unprotected_parts", &signer) &&
	    json_object_get_int(signer) > 0)
		fprintf(out, "WARNING: parts of this message are outside the protected part\n");
	layers = array(root, "harvested");
	for (i = 0; layers != NULL && i < json_object_array_length(layers); i++) {
		json_object *h = json_object_array_get_idx(layers, i);

		fprintf(out, "Certificate of %s remembered for encrypting to them\n", str(h, "address"));
	}
	layers = array(root, "not_harvested");
	for (i = 0; layers != NULL && i < json_object_array_length(layers); i++) {
		json_object *h = json_object_array_get_idx(layers, i);

		fprintf(out, "Certificate of %s not remembered: %s\n", str(h, "address"),
		        str(h, "reason"));
	}
	json_object_put(root);
}

/* A string array as "a, b, c" (or dflt when absent, null or empty). */
static void
print_list(FILE *out, json_object *o, const char *key, const char *dflt)
{
	json_object *a = array(o, key);
	size_t i;

	if (a == NULL || json_object_array_length(a) == 0) {
		fprintf(out, "%s", dflt);
		return;
	}
	for (i = 0; i < json_object_array_length(a); i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "",
		        json_object_get_string(json_object_array_get_idx(a, i)));
}

/* CERTS_LIST's "choice" for one address: what encryption would use, and why not the others. */
static void
print_choice(FILE *out, json_object *choice)
{
	json_object *chosen, *rejected = array(choice, "rejected");
	size_t i;

	if (json_object_object_get_ex(choice, "chosen", &chosen))
		fprintf(out, "Encryption to %s uses %s\n  (%s, %s, revocation %s)\n",
		        str(choice, "address"), str(chosen, "fingerprint"), str(chosen, "source"),
		        str(chosen, "trust"), str(chosen, "revocation"));
	else
		fprintf(out, "No usable encryption certificate for %s\n", str(choice, "address"));
	for (i = 0; rejected != NULL && i < json_object_array_length(rejected); i++) {
		json_object *c = json_object_array_get_idx(rejected, i);

		fprintf(out, "  not used: %s (", str(c, "fingerprint"));
		print_list(out, c, "reasons", "");
		fprintf(out, ")\n");
	}
	fprintf(out, "\n");
}

void
print_certs(FILE *out, const char *json)
{
	json_object *root = json_tokener_parse(json), *certs, *v;
	size_t i;

	if (root == NULL) {
		fprintf(out, "%s\n", json);
		return;
	}
	if (json_object_object_get_ex(root, "choice", &v))
		print_choice(out, v);
	certs = array(root, "certs");
	if (certs == NULL || json_object_array_length(certs) == 0)
		fprintf(out, "no certificates\n");
	for (i = 0; certs != NULL && i < json_object_array_length(certs); i++) {
		json_object *c = json_object_array_get_idx(certs, i);

		fprintf(out, "%s%s%s\n", i > 0 ? "\n" : "", str(c, "subject"),
		        flag(c, "preferred") ? "  [used for encryption]" : "");
		fprintf(out, "  fingerprint  %s\n", str(c, "fingerprint"));
		fprintf(out, "  emails       ");
		print_list(out, c, "emails", "-");
		fprintf(out, "\n  issuer       %s\n", str(c, "issuer"));
		fprintf(out, "  valid        %s to %s\n", str(c, "not_before"), str(c, "not_after"));
		fprintf(out, "  key          %s", str(c, "key_type"));
		if (json_object_object_get_ex(c, "key_bits", &v))
			fprintf(out, " %d bits", json_object_get_int(v));
		if (str(c, "curve")[0] != '\0')
			fprintf(out, " (%s)", str(c, "curve"));
		fprintf(out, "; usage ");
		print_list(out, c, "key_usage", "any");
		fprintf(out, "\n  source       %s", str(c, "source"));
		if (flag(c, "own"))
			fprintf(out, " (your identity on %s)", str(c, "token_label"));
		fprintf(out, "\n");
		if (str(c, "signing_time")[0] != '\0')
			fprintf(out, "  last signed  %s\n", str(c, "signing_time"));
		if (array(c, "capabilities") != NULL) {
			fprintf(out, "  accepts      ");
			print_list(out, c, "capabilities", "");
			fprintf(out, "\n");
		}
	}
	json_object_put(root);
}

void
print_install(FILE *out, const char *json)
{
	json_object *root = json_tokener_parse(json), *installed;
	size_t i;

	if (root == NULL) {
		fprintf(out, "%s\n", json);
		return;
	}
	installed = array(root, "installed");
	for (i = 0; installed != NULL && i < json_object_array_length(installed); i++) {
		json_object *c = json_object_array_get_idx(installed, i);

		fprintf(out, "installed for %s: %s\n  fingerprint %s\n", str(c, "address"),
		        str(c, "subject"), str(c, "fingerprint"));
	}
	json_object_put(root);
}

void
print_error_details(FILE *out, const char *details)
{
	json_object *root = details != NULL ? json_tokener_parse(details) : NULL;

	if (root == NULL)
		return;
	if (str(root, "error")[0] != '\0')
		fprintf(out, "cardseal: %s\n", str(root, "error"));
	if (str(root, "verdict")[0] != '\0') {
		fprintf(out, "cardseal: signature by %s: %s\n", str(root, "signer"),
		        verdict_words(str(root, "verdict")));
		if (array(root, "reasons") != NULL &&
		    json_object_array_length(array(root, "reasons")) > 0) {
			fprintf(out, "cardseal: reasons: ");
			print_list(out, root, "reasons", "");
			fprintf(out, "\n");
		}
	}
	json_object_put(root);
}

int
report_signatures_ok(const char *json)
{
	json_object *root = json_tokener_parse(json);
	const char *v;
	int ok;

	if (root == NULL)
		return 0;
	v = str(root, "verdict");
	ok = strcmp(v, "valid") == 0 || strcmp(v, "unsigned") == 0;
	json_object_put(root);
	return ok;
}
