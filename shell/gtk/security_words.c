/* Plain words for the engine's verdicts and reasons. */
#include "security_words.h"

#include <string.h>

static const char *
verdict_short(const char *v)
{
	if (strcmp(v, "valid") == 0)
		return "valid";
	if (strcmp(v, "invalid") == 0)
		return "NOT VALID, the message was changed after it was signed";
	if (strcmp(v, "untrusted") == 0)
		return "NOT TRUSTED, the certificate does not lead to an authority you trust";
	if (strcmp(v, "expired") == 0)
		return "NOT VALID NOW, a certificate has expired or is not yet valid";
	if (strcmp(v, "revoked") == 0)
		return "REVOKED, the signer's certificate was withdrawn";
	if (strcmp(v, "mismatch") == 0)
		return "NOT THE SENDER, the signature belongs to another address";
	return v[0] != '\0' ? v : "no verdict";
}

char *
sw_layer_headline(const struct ej_layer *l)
{
	char *name, *out;

	if (l->encrypted) {
		if (l->integrity_protected)
			return g_strdup_printf("Encrypted with %s", l->cipher);
		return g_strdup_printf("Encrypted with %s, without integrity protection",
		                       l->cipher);
	}
	name = ej_common_name(l->signer_subject);
	if (name[0] != '\0' && l->signer_email[0] != '\0' && strcmp(name, l->signer_email) != 0)
		out = g_strdup_printf("Signed by %s <%s>: %s", name, l->signer_email,
		                      verdict_short(l->verdict));
	else
		out = g_strdup_printf("Signed by %s: %s",
		                      l->signer_email[0] != '\0' ? l->signer_email : name,
		                      verdict_short(l->verdict));
	g_free(name);
	return out;
}

const char *
sw_verdict_meaning(const char *v)
{
	if (strcmp(v, "valid") == 0)
		return "The message is as the signer sent it, and the signer is who the "
		       "certificate says.";
	if (strcmp(v, "invalid") == 0)
		return "Someone changed the message after it was signed. Do not trust its content.";
	if (strcmp(v, "untrusted") == 0)
		return "The signature is intact, but nobody you trust vouches for the signer.";
	if (strcmp(v, "expired") == 0)
		return "The signature is intact, but a certificate in it is not valid today.";
	if (strcmp(v, "revoked") == 0)
		return "The signer's certificate was revoked: treat the message as suspicious.";
	if (strcmp(v, "mismatch") == 0)
		return "The signature is intact, but its signer is not the sender in From:.";
	return NULL;
}

const char *
sw_reason_text(const char *reason)
{
	static const struct {
		const char *name, *text;
	} words[] = {
	    {"expired", "A certificate has expired."},
	    {"not-yet-valid", "A certificate is not valid yet."},
	    {"revoked", "A certificate was revoked by its authority."},
	    {"revocation-unknown",
	     "Revocation unknown: no current revocation list says whether the certificate "
	     "was withdrawn."},
	    {"untrusted-root", "The chain does not end at an authority you trust."},
	    {"key-usage", "The certificate is not meant for signing."},
	    {"extended-key-usage", "The certificate is not meant for email."},
	    {"address-mismatch", "The certificate's address is not the sender's."},
	    {"weak-algorithm", "A weak algorithm was used (for example SHA-1 or 3DES)."},
	    {"weak-key", "The signer's key is too short to be safe."},
	    {"bad-signature", "The signature does not match the message."},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(words); i++) {
		if (strcmp(words[i].name, reason) == 0)
			return words[i].text;
	}
	return reason;
}

int
sw_layer_ok(const struct ej_layer *l)
{
	if (l->encrypted)
		return l->integrity_protected;
	return strcmp(l->verdict, "valid") == 0;
}

char *
policy_lock_text(const struct ej_toggle *t, const char *what)
{
	if (t->value)
		return g_strdup_printf("Locked by your administrator's policy (%s): every message "
		                       "is %s.",
		                       t->by[0] != '\0' ? t->by : "lock-toggles", what);
	return g_strdup_printf("Locked by your administrator's policy (%s): messages are not %s "
	                       "unless the policy changes.",
	                       t->by[0] != '\0' ? t->by : "lock-toggles", what);
}
