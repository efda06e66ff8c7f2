/*
 * cardseal-tokens: lists PKCS#11 tokens and the identities (certificate +
 * private key pairs) on them, exactly as cardseal-keyd's tokens/ layer sees
 * them. A diagnostic for setting up cards and modules; it never logs in.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cs_error.h"
#include "tok.h"

static void
usage(FILE *out)
{
	fprintf(out, "Usage: cardseal-tokens [--modules SPEC] [--softhsm-conf FILE]\n"
	             "\n"
	             "Lists PKCS#11 tokens and the certificate + key pairs on them.\n"
	             "  --modules SPEC       'p11-kit' (the registered modules, default) or a\n"
	             "                       ';'-separated list of module paths\n"
	             "  --softhsm-conf FILE  use this SoftHSM configuration (sets SOFTHSM2_CONF)\n"
	             "  -h, --help           this text\n");
}

static void
print_cert(const struct tok_identity *id)
{
	const unsigned char *p = id->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)id->cert_len);
	char subject[256] = "(unreadable certificate)";
	STACK_OF(OPENSSL_STRING) *emails = NULL;

	if (x != NULL) {
		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		emails = X509_get1_email(x);
	}
	printf("    %-16s %s key%s%s\n", id->label != NULL ? id->label : "(no label)",
	       id->key_type == TOK_KEY_RSA ? "RSA" : "EC",
	       id->local ? ", generated on the token" : "",
	       id->always_authenticate ? ", PIN for every use" : "");
	printf("      subject  %s\n", subject);
	if (emails != NULL && sk_OPENSSL_STRING_num(emails) > 0)
		printf("      email    %s\n", sk_OPENSSL_STRING_value(emails, 0));
	printf("      key      %s\n", id->key_uri);
	X509_email_free(emails);
	X509_free(x);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "modules", required_argument, NULL, 'm' },
		{ "softhsm-conf", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *modules = "p11-kit";
	struct tok_ctx *ctx = NULL;
	struct tok_token_info *tokens = NULL;
	struct tok_identity *ids = NULL;
	size_t n_tokens = 0, n_ids = 0, i, j;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			modules = optarg;
			break;
		case 's':
			setenv("SOFTHSM2_CONF", optarg, 1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((r = tok_ctx_new(modules, &ctx)) != 0) {
		fprintf(stderr, "cardseal-tokens: cannot load modules '%s': %s\n", modules,
		        cs_strerror(r));
		goto out;
	}
	if ((r = tok_list_tokens(ctx, &tokens, &n_tokens)) != 0 ||
	    (r = tok_list_identities(ctx, &ids, &n_ids)) != 0) {
		fprintf(stderr, "cardseal-tokens: %s\n", cs_strerror(r));
		goto out;
	}
	for (i = 0; i < n_tokens; i++) {
		const struct tok_token_info *t = &tokens[i];

		if (!t->present || t->label[0] == '\0')
			continue;
		printf("token %s (serial %s, %s %s)\n", t->label, t->serial, t->manufacturer,
		       t->model);
		printf("  module %s, slot %lu%s%s%s%s\n", t->module_path, (unsigned long)t->slot_id,
		       t->protected_auth_path ? ", PIN pad" : "",
		       t->pin_count_low ? ", PIN count low" : "",
		       t->pin_final_try ? ", final PIN try" : "", t->pin_locked ? ", PIN LOCKED" : "");
		for (j = 0; j < n_ids; j++) {
			if (strcmp(ids[j].token.label, t->label) == 0 &&
			    strcmp(ids[j].token.serial, t->serial) == 0)
				print_cert(&ids[j]);
		}
	}
	status = 0;
out:
	tok_identities_free(ids, n_ids);
	free(tokens);
	tok_ctx_free(ctx);
	return status;
}
