/*
 * The admin policy file: "key = value" lines (an optional [policy] section
 * header, '#' or ';' comments), native keys and the EAS names mapped onto
 * them. A key given twice, also through its EAS name, is an error: the
 * administrator must not have to guess which line wins. docs/policy.md is
 * the reference.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"

#define POLICY_MAX_LINE 4096

static const struct {
	unsigned bit;
	const char *name;
} sig_names[] = {
	{ POLICY_SIG_SHA256, "sha256" }, { POLICY_SIG_SHA384, "sha384" },
	{ POLICY_SIG_SHA512, "sha512" }, { POLICY_SIG_RSA, "rsa" },
	{ POLICY_SIG_ECDSA, "ecdsa" },
}, enc_names[] = {
	{ POLICY_ENC_AES256_GCM, "aes256-gcm" },
	{ POLICY_ENC_AES256_CBC, "aes256-cbc" },
};

static const char *const neg_names[] = { "never", "strong", "any" };

/* The native keys; EAS names set the same slots (a slot set twice is an error). */
enum slot {
	SLOT_SIG_ALGS, SLOT_ENC_ALGS, SLOT_REQ_SIGNED, SLOT_REQ_ENCRYPTED, SLOT_NEGOTIATION,
	SLOT_SOFT, SLOT_LOCK, SLOT_CONFIRM, SLOT_RAW, SLOT_HW, SLOT_EAS_SIG_MIN, SLOT_EAS_ENC_MIN,
	SLOT_COUNT
};

static const char *const slot_keys[SLOT_COUNT] = {
	"signature-algorithms", "encryption-algorithms", "require-signed", "require-encrypted",
	"algorithm-negotiation", "allow-soft-certs", "lock-toggles", "confirm-signatures",
	"allow-raw-cms", "hardware-modules", "RequireSignedSMIMEAlgorithm",
	"RequireEncryptionSMIMEAlgorithm",
};

static const struct {
	const char *eas;
	enum slot slot;
} eas_keys[] = {
	{ "RequireSignedSMIMEMessages", SLOT_REQ_SIGNED },
	{ "RequireEncryptedSMIMEMessages", SLOT_REQ_ENCRYPTED },
	{ "RequireSignedSMIMEAlgorithm", SLOT_EAS_SIG_MIN },
	{ "RequireEncryptionSMIMEAlgorithm", SLOT_EAS_ENC_MIN },
	{ "AllowSMIMEEncryptionAlgorithmNegotiation", SLOT_NEGOTIATION },
	{ "AllowSMIMESoftCerts", SLOT_SOFT },
};

const char *
policy_sig_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
		if (sig_names[i].bit == bit)
			return sig_names[i].name;
	return "?";
}

const char *
policy_enc_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < sizeof(enc_names) / sizeof(enc_names[0]); i++)
		if (enc_names[i].bit == bit)
			return enc_names[i].name;
	return "?";
}

void
cs_policy_defaults(struct cs_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->signature_algs = POLICY_SIG_ALL;
	p->encryption_algs = POLICY_ENC_ALL;
	p->negotiation = POLICY_NEG_ANY;
	p->allow_soft_certs = 1;
	p->allow_raw_cms = 1;
	snprintf(p->hardware_modules, sizeof(p->hardware_modules), "%s",
	         CS_POLICY_DEFAULT_HW_MODULES);
}

void
cs_policy_clear(struct cs_policy *p)
{
	size_t i;

	for (i = 0; p->hw_modules != NULL && i < p->n_hw_modules; i++)
		free(p->hw_modules[i]);
	free(p->hw_modules);
	cs_policy_defaults(p);
}

static int
fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return r;
}

/* yes/no, true/false, 1/0 (EAS writes 0 and 1). Returns 0 or 1, -1 if neither. */
static int
parse_bool(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* A list of names separated by spaces or commas, each one of names[]. Returns 0 or -1. */
static int
parse_list(const char *v, const void *table, size_t n, unsigned *ret, char *bad, size_t bad_size)
{
	const struct {
		unsigned bit;
		const char *name;
	} *names = table;
	char word[64];
	unsigned bits = 0;
	size_t i, len;

	while (*v != '\0') {
		len = strcspn(v, " \t,");
		if (len == 0) {
			v++;
			continue;
		}
		if (len >= sizeof(word)) {
			snprintf(bad, bad_size, "%.20s...", v);
			return -1;
		}
		memcpy(word, v, len);
		word[len] = '\0';
		v += len;
		for (i = 0; i < n && strcasecmp(word, names[i].name) != 0; i++)
			;
		if (i == n) {
			snprintf(bad, bad_size, "%s", word);
			return -1;
		}
		bits |= names[i].bit;
	}
	*ret = bits;
	return 0;
}

/* algorithm-negotiation: our words, or EAS's numbers and names. */
static int
parse_negotiation(const char *v)
{
	static const char *const eas[] = { "BlockNegotiation", "OnlyStrongAlgorithmNegotiation",
		                           "AllowAnyAlgorithmNegotiation" };
	int i;

	for (i = 0; i < 3; i++) {
		char digit[2] = { (char)('0' + i), '\0' };

		if (strcasecmp(v, neg_names[i]) == 0 || strcasecmp(v, eas[i]) == 0 ||
		    strcmp(v, digit) == 0)
			return i;
	}
	return -1;
}

/*
 * The EAS algorithm minimums: SHA-1 and MD5 for signing, 3DES, DES and RC2
 * for encryption. RFC 8551 forbids sending them; every algorithm the engine
 * uses is stronger, so they are recorded as the floor they are and never used.
 */
static const char *
parse_eas_minimum(const char *v, int encryption)
{
	static const char *const sig[][3] = { { "0", "SHA1", "SHA-1" }, { "1", "MD5", "MD5" } };
	static const char *const enc[][3] = {
		{ "0", "TripleDES", "3DES" }, { "1", "DES", "DES" }, { "2", "RC2128bit", "RC2-128" },
		{ "3", "RC264bit", "RC2-64" }, { "4", "RC240bit", "RC2-40" },
	};
	size_t i, j, n = encryption ? 5 : 2;

	for (i = 0; i < n; i++) {
		for (j = 0; j < 3; j++) {
			const char *name = encryption ? enc[i][j] : sig[i][j];

			if (strcasecmp(v, name) == 0)
				return encryption ? enc[i][2] : sig[i][2];
		}
	}
	if (encryption && strcasecmp(v, "RC2") == 0)
		return "RC2";
	return NULL;
}

static int
parse_lock(const char *v, struct cs_policy *p)
{
	char word[16];
	size_t len;
	int b = parse_bool(v);

	if (b >= 0) {
		p->lock_sign = p->lock_encrypt = b;
		return 0;
	}
	p->lock_sign = p->lock_encrypt = 0;
	while (*v != '\0') {
		len = strcspn(v, " \t,");
		if (len == 0) {
			v++;
			continue;
		}
		if (len >= sizeof(word))
			return -1;
		memcpy(word, v, len);
		word[len] = '\0';
		v += len;
		if (strcasecmp(word, "sign") == 0)
			p->lock_sign = 1;
		else if (strcasecmp(word, "encrypt") == 0)
			p->lock_encrypt = 1;
		else
			return -1;
	}
	return 0;
}

/* Applies value to the slot; returns 0 or -1 (the value is not one the key takes). */
static int
set_slot(struct cs_policy *p, enum slot slot, const char *v, char *bad, size_t bad_size)
{
	const char *min;
	int b;

	snprintf(bad, bad_size, "%s", v);
	switch (slot) {
	case SLOT_SIG_ALGS:
		if (parse_list(v, sig_names, sizeof(sig_names) / sizeof(sig_names[0]),
		               &p->signature_algs, bad, bad_size) != 0)
			return -1;
		/* Naming only key algorithms leaves every digest allowed, and the other way round. */
		if ((p->signature_algs & (POLICY_SIG_SHA256 | POLICY_SIG_SHA384 | POLICY_SIG_SHA512)) == 0)
			p->signature_algs |= POLICY_SIG_SHA256 | POLICY_SIG_SHA384 | POLICY_SIG_SHA512;
		if ((p->signature_algs & (POLICY_SIG_RSA | POLICY_SIG_ECDSA)) == 0)
			p->signature_algs |= POLICY_SIG_RSA | POLICY_SIG_ECDSA;
		return 0;
	case SLOT_ENC_ALGS:
		if (parse_list(v, enc_names, sizeof(enc_names) / sizeof(enc_names[0]),
		               &p->encryption_algs, bad, bad_size) != 0 || p->encryption_algs == 0)
			return -1;
		return 0;
	case SLOT_NEGOTIATION:
		return (p->negotiation = parse_negotiation(v)) < 0 ? -1 : 0;
	case SLOT_LOCK:
		return parse_lock(v, p);
	case SLOT_HW:
		if (v[0] != '/' || strlen(v) >= sizeof(p->hardware_modules))
			return -1;
		snprintf(p->hardware_modules, sizeof(p->hardware_modules), "%s", v);
		return 0;
	case SLOT_EAS_SIG_MIN:
	case SLOT_EAS_ENC_MIN:
		if ((min = parse_eas_minimum(v, slot == SLOT_EAS_ENC_MIN)) == NULL)
			return -1;
		snprintf(slot == SLOT_EAS_SIG_MIN ? p->eas_sign_minimum : p->eas_encrypt_minimum,
		         sizeof(p->eas_sign_minimum), "%s", min);
		return 0;
	default:
		break;
	}
	if ((b = parse_bool(v)) < 0)
		return -1;
	switch (slot) {
	case SLOT_REQ_SIGNED:
		p->require_signed = b;
		break;
	case SLOT_REQ_ENCRYPTED:
		p->require_encrypted = b;
		break;
	case SLOT_SOFT:
		p->allow_soft_certs = b;
		break;
	case SLOT_CONFIRM:
		p->confirm_signatures = b;
		break;
	case SLOT_RAW:
		p->allow_raw_cms = b;
		break;
	default:
		return -1;
	}
	return 0;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int
cs_policy_parse(struct cs_policy *p, const char *name, const char *text, size_t len, char *err,
                size_t err_size)
{
	unsigned set_on[SLOT_COUNT] = { 0 };
	char line[POLICY_MAX_LINE + 1], bad[80], *key, *value, *eq;
	size_t pos = 0, llen, i;
	unsigned lineno = 0;
	enum slot slot;

	if (len > CS_POLICY_MAX_FILE)
		return fail(err, err_size, CS_ERR_TOO_LARGE, "%s: larger than %u bytes", name,
		            CS_POLICY_MAX_FILE);
	while (pos < len) {
		lineno++;
		for (llen = 0; pos + llen < len && text[pos + llen] != '\n'; llen++)
			;
		if (llen > POLICY_MAX_LINE)
			return fail(err, err_size, CS_ERR_TOO_LARGE, "%s:%u: line too long", name, lineno);
		if (memchr(text + pos, '\0', llen) != NULL)
			return fail(err, err_size, CS_ERR_BAD_FORMAT, "%s:%u: NUL byte", name, lineno);
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		pos += llen + 1;
		key = trim(line);
		if (*key == '\0' || *key == '#' || *key == ';')
			continue;
		if (strcasecmp(key, "[policy]") == 0)
			continue;
		if ((eq = strchr(key, '=')) == NULL)
			return fail(err, err_size, CS_ERR_BAD_FORMAT, "%s:%u: expected KEY = VALUE", name,
			            lineno);
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		for (slot = 0; slot < SLOT_COUNT && strcmp(key, slot_keys[slot]) != 0; slot++)
			;
		for (i = 0; slot == SLOT_COUNT && i < sizeof(eas_keys) / sizeof(eas_keys[0]); i++)
			if (strcasecmp(key, eas_keys[i].eas) == 0)
				slot = eas_keys[i].slot;
		if (slot == SLOT_COUNT)
			return fail(err, err_size, CS_ERR_BAD_FORMAT, "%s:%u: unknown key '%.64s'", name,
			            lineno, key);
		if (set_on[slot] != 0)
			return fail(err, err_size, CS_ERR_BAD_FORMAT,
			            "%s:%u: '%.64s' sets %s again (first on line %u)", name, lineno, key,
			            slot_keys[slot], set_on[slot]);
		set_on[slot] = lineno;
		if (set_slot(p, slot, value, bad, sizeof(bad)) != 0)
			return fail(err, err_size, CS_ERR_BAD_FORMAT, "%s:%u: %s: bad value '%s'", name,
			            lineno, key, bad);
	}
	return 0;
}

static struct cs_policy installed;
static int have_installed;

void
policy_install(struct cs_policy *p)
{
	installed = *p;
	have_installed = 1;
	memset(p, 0, sizeof(*p));
}

const struct cs_policy *
policy_current(void)
{
	if (!have_installed) {
		cs_policy_defaults(&installed);
		have_installed = 1;
	}
	return &installed;
}

int
policy_key_is_hardware(const struct cs_policy *p, const char *module, unsigned key_flags,
                       const char **ret_why)
{
	char real[PATH_MAX];
	const char *m;
	size_t i;

	if (module == NULL || module[0] == '\0') {
		*ret_why = "its token is absent, so whether the key is a hardware key cannot be checked";
		return 0;
	}
	m = realpath(module, real) != NULL ? real : module;
	for (i = 0; i < p->n_hw_modules; i++)
		if (strcmp(p->hw_modules[i], m) == 0)
			break;
	if (i == p->n_hw_modules) {
		*ret_why = "its PKCS#11 module is not on the hardware allowlist";
		return 0;
	}
	if (!(key_flags & CS_KID_LOCAL)) {
		*ret_why = "its key was not generated on the token (imported: CKA_LOCAL false)";
		return 0;
	}
	*ret_why = NULL;
	return 1;
}

int
policy_cipher_negotiable(const struct cs_policy *p, unsigned alg, const char **ret_policy)
{
	*ret_policy = NULL;
	if (!(p->encryption_algs & alg))
		*ret_policy = "encryption-algorithms";
	else if (alg != POLICY_ENC_AES256_GCM && (p->encryption_algs & POLICY_ENC_AES256_GCM) &&
	         p->negotiation == POLICY_NEG_NEVER)
		*ret_policy = "algorithm-negotiation";
	return *ret_policy == NULL;
}

void
policy_json(const struct cs_policy *p, struct cs_json *j)
{
	size_t i;

	cs_json_string(j, "source", p->source[0] != '\0' ? p->source : NULL);
	cs_json_object_begin(j, "keys");
	cs_json_array_begin(j, "signature-algorithms");
	for (i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
		if (p->signature_algs & sig_names[i].bit)
			cs_json_string(j, NULL, sig_names[i].name);
	cs_json_array_end(j);
	cs_json_array_begin(j, "encryption-algorithms");
	for (i = 0; i < sizeof(enc_names) / sizeof(enc_names[0]); i++)
		if (p->encryption_algs & enc_names[i].bit)
			cs_json_string(j, NULL, enc_names[i].name);
	cs_json_array_end(j);
	cs_json_bool(j, "require-signed", p->require_signed);
	cs_json_bool(j, "require-encrypted", p->require_encrypted);
	cs_json_string(j, "algorithm-negotiation", neg_names[p->negotiation]);
	cs_json_bool(j, "allow-soft-certs", p->allow_soft_certs);
	cs_json_array_begin(j, "lock-toggles");
	if (p->lock_sign)
		cs_json_string(j, NULL, "sign");
	if (p->lock_encrypt)
		cs_json_string(j, NULL, "encrypt");
	cs_json_array_end(j);
	cs_json_bool(j, "confirm-signatures", p->confirm_signatures);
	cs_json_bool(j, "allow-raw-cms", p->allow_raw_cms);
	cs_json_string(j, "hardware-modules", p->hardware_modules);
	cs_json_object_end(j);
	cs_json_array_begin(j, "hardware_modules");
	for (i = 0; i < p->n_hw_modules; i++)
		cs_json_string(j, NULL, p->hw_modules[i]);
	cs_json_array_end(j);
	/* What the shells show: a locked toggle is greyed out at its value. */
	cs_json_object_begin(j, "toggles");
	cs_json_object_begin(j, "sign");
	cs_json_bool(j, "locked", p->lock_sign || p->require_signed);
	cs_json_bool(j, "value", p->require_signed);
	cs_json_string(j, "by", p->require_signed ? "require-signed" :
	                        p->lock_sign      ? "lock-toggles" : NULL);
	cs_json_object_end(j);
	cs_json_object_begin(j, "encrypt");
	cs_json_bool(j, "locked", p->lock_encrypt || p->require_encrypted);
	cs_json_bool(j, "value", p->require_encrypted);
	cs_json_string(j, "by", p->require_encrypted ? "require-encrypted" :
	                        p->lock_encrypt      ? "lock-toggles" : NULL);
	cs_json_object_end(j);
	cs_json_object_end(j);
	cs_json_object_begin(j, "eas_minimums");
	cs_json_string(j, "signature", p->eas_sign_minimum[0] ? p->eas_sign_minimum : NULL);
	cs_json_string(j, "encryption", p->eas_encrypt_minimum[0] ? p->eas_encrypt_minimum : NULL);
	cs_json_object_end(j);
}
