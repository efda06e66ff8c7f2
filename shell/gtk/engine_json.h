/*
 * The engine's JSON replies, read in one place. Layouts are in
 * docs/protocol.md; a field the engine does not send (yet) reads as empty,
 * false or absent, so a newer or older engine degrades the display rather
 * than breaking it. Every parser returns a new struct (free it with its
 * _free function) or NULL when the text is not a JSON object.
 */
#ifndef CSG_ENGINE_JSON_H
#define CSG_ENGINE_JSON_H

#include <glib.h>

/* A certificate as STATUS, CERTS_LIST and READ describe it. */
struct ej_cert {
	char *label; /* the object's label on the token, if any */
	char *subject;
	char *issuer;
	char *email; /* the first address */
	char *not_after;
	char *token; /* token label ("" when not on a token) */
	char *key_uri;
	char *cert_uri;
	char *fingerprint;
	char *key_type; /* "RSA", "EC" or "" */
	gboolean valid_now;
	gboolean can_sign;
	gboolean can_decrypt;
	gboolean encryption_usage; /* keyEncipherment or keyAgreement */
	gboolean signing_usage;    /* digitalSignature or nonRepudiation */
};

struct ej_token {
	char *label; /* "" when the token is absent (the engine may not know it then) */
	gint64 slot;
	char *serial;
	gboolean present;
	gboolean pin_count_low;
	gboolean pin_final_try;
	gboolean pin_locked;
	gboolean logged_in;
};

struct ej_status {
	GPtrArray *tokens;     /* struct ej_token * */
	GPtrArray *identities; /* struct ej_cert * */
};

struct ej_layer {
	gboolean encrypted; /* else signed */
	/* encrypted */
	char *cipher;
	gboolean integrity_protected;
	/* signed */
	char *verdict;      /* valid, invalid, untrusted, expired, revoked, mismatch ... */
	GPtrArray *reasons; /* char * */
	char *revocation;
	char *signer_email;
	char *signer_subject;
	char *signing_time;
	char *digest;
	gboolean weak_algorithm;
	gboolean email_matches;
	gboolean opaque;
	GPtrArray *chain; /* struct ej_cert * (subject, issuer, not_after) */
};

struct ej_report {
	char *verdict;
	char *from;
	int unprotected_parts;
	GPtrArray *layers; /* struct ej_layer * */
	GStrv harvested;   /* addresses whose certificates READ remembered (maybe empty) */
};

/* Per-account settings (SETTINGS_GET). */
struct ej_settings {
	char *account;
	char *sign_cert; /* "auto" or a pkcs11: URI */
	char *encrypt_cert;
	gboolean always_sign;
	gboolean always_encrypt;
};

/* One per-message toggle as the policy leaves it. */
struct ej_toggle {
	gboolean locked; /* the user may not change it */
	gboolean value;  /* its value when locked */
	char *by;        /* the policy key that locks it ("require-signed" ...) */
};

/* The admin policy (POLICY_GET): only what the shell shows or locks. */
struct ej_policy {
	gboolean present; /* a policy file is in force */
	struct ej_toggle sign, encrypt;
	gboolean allow_soft_certs;
	char *source;
};

struct ej_status *ej_status_parse(const char *json);
void ej_status_free(struct ej_status *s);

struct ej_report *ej_report_parse(const char *json);
void ej_report_free(struct ej_report *r);

/* SETTINGS_GET or SETTINGS_SET's reply; account picks one when several are listed. */
struct ej_settings *ej_settings_parse(const char *json, const char *account);
void ej_settings_free(struct ej_settings *s);

struct ej_policy *ej_policy_parse(const char *json);
void ej_policy_free(struct ej_policy *p);

/*
 * CERTS_CHOOSE's answer for the signer ("signer") or the encryption
 * certificate ("encryption"): the chosen key URI in *ret_uri, or NULL and
 * the engine's reason in *ret_message. FALSE when the reply says neither.
 */
gboolean ej_choice_parse(const char *json, const char *which, char **ret_uri, char **ret_message);

/* CERTS_LIST: struct ej_cert * (free the array). */
GPtrArray *ej_certs_parse(const char *json);

/* The addresses of a CS_ERR_NO_RECIPIENT_CERT error's details {"missing":[...]}. */
GStrv ej_missing_parse(const char *json);

/* CERTS_INSTALL: the addresses installed ({"installed":[{"address":..}]}), maybe empty. */
GStrv ej_installed_parse(const char *json);

/* CERTS_IMPORT / PROTECT: a list of strings under key ("dropped"), maybe empty. */
GStrv ej_string_list(const char *json, const char *key);

/* One output stream of PROTECT's reply: stream 0 for To/Cc, 1, 2 ... a Bcc copy each. */
struct ej_output {
	guint stream;
	GStrv recipients; /* the envelope recipients the engine names for it */
};

/* PROTECT's "outputs": struct ej_output * (free the array), maybe empty. */
GPtrArray *ej_outputs_parse(const char *json);

/* The words of an ERROR's details ({"error": ...} or {"message": ...}), or NULL. */
char *ej_error_message(const char *details);

void ej_cert_free(struct ej_cert *c);

/* "Alice Example" out of "/CN=Alice Example/emailAddress=..." (or the whole name). */
char *ej_common_name(const char *subject);

/* The date of an ISO 8601 time ("2031-11-28" of "2031-11-28T14:19:49Z"). */
char *ej_date(const char *iso);

#endif
