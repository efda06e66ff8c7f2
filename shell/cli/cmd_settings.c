/*
 * cardseal settings and cardseal policy: per-account S/MIME settings, the
 * engine's certificate choice explained, and the admin policy. The engine
 * decides and checks everything; this file sends requests and prints
 * replies (json-c reads them).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "cs_buf.h"
#include "cs_error.h"
#include "cs_proto.h"

#define MAX_TO 256

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    json_object_get_type(v) != json_type_string)
		return NULL;
	return json_object_get_string(v);
}

static int
jbool(json_object *o, const char *key)
{
	json_object *v;

	return o != NULL && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static json_object *
jget(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != type)
		return NULL;
	return v;
}

void
print_engine_error(const char *what, int err, const char *details)
{
	json_object *d = details != NULL && details[0] != '\0' ? json_tokener_parse(details) : NULL;
	json_object *valid = jget(d, "valid", json_type_array);
	const char *message = jstr(d, "message"), *policy = jstr(d, "policy");
	size_t i;

	fprintf(stderr, "cardseal: %s: %s\n", what, message != NULL ? message : cs_strerror(err));
	if (policy != NULL)
		fprintf(stderr, "cardseal: refused by the admin policy: %s (%s)\n", policy,
		        jstr(d, "policy_file") != NULL ? jstr(d, "policy_file") : "");
	if (valid != NULL) {
		fprintf(stderr, "cardseal: valid choices: auto%s\n",
		        json_object_array_length(valid) > 0 ? ", or one of:" : " (no valid certificate)");
		for (i = 0; i < json_object_array_length(valid); i++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(valid, i)));
	}
	json_object_put(d);
}

void
print_protect_applied(const char *json, int defaults_decided)
{
	json_object *o = json != NULL ? json_tokener_parse(json) : NULL;
	json_object *a = jget(o, "applied", json_type_object);
	json_object *dropped = jget(o, "dropped", json_type_array);
	const char *cipher_because = jstr(a, "cipher_because");
	int negotiated = cipher_because != NULL && strcmp(cipher_because, "default") != 0 &&
	                 strcmp(cipher_because, "request") != 0;
	size_t i;

	if (dropped != NULL && json_object_array_length(dropped) > 0) {
		fprintf(stderr, "cardseal: left out (no certificate):");
		for (i = 0; i < json_object_array_length(dropped); i++)
			fprintf(stderr, "%s %s", i > 0 ? "," : "",
			        json_object_get_string(json_object_array_get_idx(dropped, i)));
		fputc('\n', stderr);
	}
	if (a != NULL && defaults_decided)
		fprintf(stderr, "cardseal: %s (%s), %s (%s)%s%s\n",
		        jbool(a, "sign") ? "signed" : "not signed",
		        jstr(a, "sign_because") ? jstr(a, "sign_because") : "?",
		        jbool(a, "encrypt") ? "encrypted" : "not encrypted",
		        jstr(a, "encrypt_because") ? jstr(a, "encrypt_because") : "?",
		        jstr(a, "cipher") ? ", " : "", jstr(a, "cipher") ? jstr(a, "cipher") : "");
	if (a != NULL && negotiated)
		fprintf(stderr, "cardseal: %s: %s\n", jstr(a, "cipher") ? jstr(a, "cipher") : "cipher",
		        cipher_because);
	json_object_put(o);
}

/* One small request whose reply is JSON; prints the error itself. */
static int
request(uint8_t type, const struct cs_buf *body, const char *what, char **ret_json)
{
	struct cs_client *c = NULL;
	int r;

	*ret_json = NULL;
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	if ((r = cs_client_request_json(c, type, body, ret_json)) != 0) {
		print_engine_error(what, r, cs_client_error_details(c));
		cs_client_close(c);
		return exit_for(r);
	}
	cs_client_close(c);
	return 0;
}

static void
print_account(json_object *a, json_object *locked)
{
	static const char *const bools[] = { "always-sign", "always-encrypt", "harvest" };
	size_t i, k;

	printf("account %s\n", jstr(a, "account") != NULL && jstr(a, "account")[0] != '\0'
	                               ? jstr(a, "account") : "(defaults for other accounts)");
	printf("  sign-cert       %s\n", jstr(a, "sign-cert") ? jstr(a, "sign-cert") : "?");
	printf("  encrypt-cert    %s\n", jstr(a, "encrypt-cert") ? jstr(a, "encrypt-cert") : "?");
	for (i = 0; i < 3; i++) {
		int is_locked = 0;

		for (k = 0; locked != NULL && k < json_object_array_length(locked); k++)
			is_locked |= strcmp(json_object_get_string(json_object_array_get_idx(locked, k)),
			                    bools[i]) == 0;
		printf("  %-15s %s%s\n", bools[i], jbool(a, bools[i]) ? "yes" : "no",
		       is_locked ? "  (per-message toggle locked by the admin policy)" : "");
	}
}

static void
print_settings(const char *json)
{
	json_object *o = json_tokener_parse(json), *accounts, *locked;
	size_t i;

	if (o == NULL) {
		printf("%s\n", json);
		return;
	}
	locked = jget(o, "locked", json_type_array);
	if ((accounts = jget(o, "accounts", json_type_array)) != NULL) {
		for (i = 0; i < json_object_array_length(accounts); i++)
			print_account(json_object_array_get_idx(accounts, i), locked);
		print_account(jget(o, "defaults", json_type_object), locked);
	} else {
		print_account(o, locked);
	}
	json_object_put(o);
}

static void
settings_usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal settings show [--json] [--account ADDR]\n"
	        "       cardseal settings set --account ADDR [--sign-cert auto|URI]\n"
	        "                [--encrypt-cert auto|URI] [--always-sign yes|no]\n"
	        "                [--always-encrypt yes|no] [--harvest yes|no]\n"
	        "       cardseal settings choose --account ADDR [--to ADDR]... [--json]\n"
	        "\n"
	        "Per-account S/MIME settings, kept by the engine. A certificate is 'auto' (the\n"
	        "engine picks the newest valid one whose key is on a token) or the pkcs11: key\n"
	        "URI of one of the account's valid identities ('settings choose' lists them).\n"
	        "'choose' explains which certificates PROTECT would use now, and why.\n");
}

static int
settings_show(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "account", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account = "";
	struct cs_buf body;
	char *json = NULL;
	int ch, as_json = 0, status;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'a':
			account = optarg;
			break;
		case 'h':
			settings_usage(stdout);
			return 0;
		default:
			settings_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		settings_usage(stderr);
		return EXIT_USAGE;
	}
	cs_buf_init(&body, 0);
	if (cs_buf_put_str(&body, account) != 0) {
		cs_buf_clear(&body);
		return EXIT_OTHER;
	}
	status = request(CS_MSG_SETTINGS_GET, &body, "settings show", &json);
	if (status == 0 && as_json)
		printf("%s\n", json);
	else if (status == 0)
		print_settings(json);
	free(json);
	cs_buf_clear(&body);
	return status;
}

static int
settings_set(int argc, char **argv)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "sign-cert", required_argument, NULL, 1 },
		{ "encrypt-cert", required_argument, NULL, 2 },
		{ "always-sign", required_argument, NULL, 3 },
		{ "always-encrypt", required_argument, NULL, 4 },
		{ "harvest", required_argument, NULL, 5 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account = NULL, *keys[16], *values[16];
	struct cs_buf body;
	char *json = NULL, what[64];
	size_t n = 0, i;
	int ch, status = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (ch == 'a') {
			account = optarg;
		} else if (ch >= 1 && ch <= 5 && n < 16) {
			keys[n] = options[ch].name;
			values[n++] = optarg;
		} else if (ch == 'h') {
			settings_usage(stdout);
			return 0;
		} else {
			settings_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || account == NULL || n == 0) {
		fprintf(stderr, "cardseal: settings set: give --account ADDR and at least one setting\n");
		return EXIT_USAGE;
	}
	/* One request per setting, in order; the first refusal stops the rest. */
	for (i = 0; i < n && status == 0; i++) {
		cs_buf_init(&body, 0);
		free(json);
		json = NULL;
		snprintf(what, sizeof(what), "settings set --%s", keys[i]);
		if (cs_buf_put_str(&body, account) != 0 || cs_buf_put_str(&body, keys[i]) != 0 ||
		    cs_buf_put_str(&body, values[i]) != 0)
			status = EXIT_OTHER;
		else
			status = request(CS_MSG_SETTINGS_SET, &body, what, &json);
		cs_buf_clear(&body);
	}
	if (status == 0 && !cli_quiet)
		print_settings(json);
	free(json);
	return status;
}

static void
print_choice(const char *title, json_object *c)
{
	json_object *cands = jget(c, "candidates", json_type_array), *reasons;
	const char *chosen = jstr(c, "chosen");
	size_t i, k;

	printf("%s (%s, setting %s): %s\n", title, jstr(c, "mode") ? jstr(c, "mode") : "?",
	       jstr(c, "setting") ? jstr(c, "setting") : "?", chosen != NULL ? chosen : "NONE");
	if (chosen == NULL && jstr(c, "message") != NULL)
		printf("  why: %s\n", jstr(c, "message"));
	for (i = 0; cands != NULL && i < json_object_array_length(cands); i++) {
		json_object *x = json_object_array_get_idx(cands, i);
		const char *uri = jstr(x, "key_uri");

		printf("  %s %s\n      %s, valid %s to %s, token %s%s\n",
		       chosen != NULL && uri != NULL && strcmp(uri, chosen) == 0 ? "*" :
		       jbool(x, "valid") ? "+" : "-",
		       uri != NULL ? uri : "?", jstr(x, "subject") ? jstr(x, "subject") : "",
		       jstr(x, "not_before") ? jstr(x, "not_before") : "?",
		       jstr(x, "not_after") ? jstr(x, "not_after") : "?",
		       jstr(x, "token") ? jstr(x, "token") : "?", jbool(x, "present") ? "" : " (absent)");
		reasons = jget(x, "reasons", json_type_array);
		for (k = 0; reasons != NULL && k < json_object_array_length(reasons); k++)
			printf("      not usable: %s\n",
			       json_object_get_string(json_object_array_get_idx(reasons, k)));
	}
}

static void
print_choose(const char *json)
{
	json_object *o = json_tokener_parse(json), *recips;
	size_t i;

	if (o == NULL) {
		printf("%s\n", json);
		return;
	}
	printf("account %s\n", jstr(o, "account") ? jstr(o, "account") : "?");
	print_choice("signing certificate", jget(o, "signer", json_type_object));
	print_choice("own encryption certificate", jget(o, "encryption", json_type_object));
	recips = jget(o, "recipients", json_type_array);
	for (i = 0; recips != NULL && i < json_object_array_length(recips); i++) {
		json_object *x = json_object_array_get_idx(recips, i);

		printf("recipient %s: %s\n", jstr(x, "address") ? jstr(x, "address") : "?",
		       jbool(x, "found") ? "certificate found" : "NO usable certificate");
	}
	printf("(* chosen, + valid, - not usable)\n");
	json_object_put(o);
}

static int
settings_choose(int argc, char **argv)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account = NULL, *to[MAX_TO];
	struct cs_buf body;
	char *json = NULL;
	size_t n = 0, i;
	int ch, as_json = 0, status = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 't':
			if (n == MAX_TO) {
				fprintf(stderr, "cardseal: settings choose: at most %d --to\n", MAX_TO);
				return EXIT_USAGE;
			}
			to[n++] = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'h':
			settings_usage(stdout);
			return 0;
		default:
			settings_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || account == NULL) {
		fprintf(stderr, "cardseal: settings choose: give --account ADDR\n");
		return EXIT_USAGE;
	}
	cs_buf_init(&body, 0);
	if (cs_buf_put_str(&body, account) != 0 || cs_buf_put_u32(&body, (uint32_t)n) != 0)
		status = EXIT_OTHER;
	for (i = 0; i < n && status == 0; i++)
		if (cs_buf_put_str(&body, to[i]) != 0)
			status = EXIT_OTHER;
	if (status == 0)
		status = request(CS_MSG_CERTS_CHOOSE, &body, "settings choose", &json);
	if (status == 0 && as_json)
		printf("%s\n", json);
	else if (status == 0)
		print_choose(json);
	free(json);
	cs_buf_clear(&body);
	return status;
}

int
cmd_settings(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return settings_show(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "set") == 0)
		return settings_set(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "choose") == 0)
		return settings_choose(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		settings_usage(stdout);
		return 0;
	}
	settings_usage(stderr);
	return EXIT_USAGE;
}

static void
policy_usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal policy show [--json]\n"
	        "\n"
	        "The administrator's policy the engine enforces (" "/etc/cardseal/policy.conf;\n"
	        "see docs/policy.md): what it requires, allows and locks.\n");
}

static void
print_list(const char *label, json_object *a)
{
	size_t i;

	printf("  %-22s", label);
	for (i = 0; a != NULL && i < json_object_array_length(a); i++)
		printf("%s%s", i > 0 ? ", " : "", json_object_get_string(json_object_array_get_idx(a, i)));
	printf("%s\n", a == NULL || json_object_array_length(a) == 0 ? "(none)" : "");
}

static void
print_policy(const char *json)
{
	json_object *o = json_tokener_parse(json), *k, *t;
	static const char *const bools[] = { "require-signed", "require-encrypted",
		                             "allow-soft-certs", "confirm-signatures",
		                             "allow-raw-cms" };
	size_t i;

	if (o == NULL) {
		printf("%s\n", json);
		return;
	}
	printf("policy %s\n", jstr(o, "source") != NULL ? jstr(o, "source")
	                                                 : "(none: no policy file, nothing enforced)");
	k = jget(o, "keys", json_type_object);
	print_list("signature-algorithms", jget(k, "signature-algorithms", json_type_array));
	print_list("encryption-algorithms", jget(k, "encryption-algorithms", json_type_array));
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		printf("  %-22s%s\n", bools[i], jbool(k, bools[i]) ? "yes" : "no");
	printf("  %-22s%s\n", "algorithm-negotiation",
	       jstr(k, "algorithm-negotiation") ? jstr(k, "algorithm-negotiation") : "?");
	print_list("lock-toggles", jget(k, "lock-toggles", json_type_array));
	printf("  %-22s%s\n", "hardware-modules",
	       jstr(k, "hardware-modules") ? jstr(k, "hardware-modules") : "?");
	print_list("  (allowlisted)", jget(o, "hardware_modules", json_type_array));
	t = jget(o, "toggles", json_type_object);
	for (i = 0; i < 2; i++) {
		json_object *x = jget(t, i == 0 ? "sign" : "encrypt", json_type_object);

		if (jbool(x, "locked"))
			printf("  the %s toggle is locked %s by %s\n", i == 0 ? "Sign" : "Encrypt",
			       jbool(x, "value") ? "on" : "off", jstr(x, "by") ? jstr(x, "by") : "?");
	}
	json_object_put(o);
}

int
cmd_policy(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *json = NULL;
	int ch, as_json = 0, status;

	if (argc < 2 || strcmp(argv[1], "show") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			policy_usage(stdout);
			return 0;
		}
		policy_usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'h':
			policy_usage(stdout);
			return 0;
		default:
			policy_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		policy_usage(stderr);
		return EXIT_USAGE;
	}
	status = request(CS_MSG_POLICY_GET, NULL, "policy show", &json);
	if (status == 0 && as_json)
		printf("%s\n", json);
	else if (status == 0)
		print_policy(json);
	free(json);
	return status;
}
