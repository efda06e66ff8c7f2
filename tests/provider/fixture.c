/* Shared set-up of the provider tests (see fixture.h). */
#include "fixture.h"
#include "cs_error.h"
#include "cs_provider.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/pem.h>

void
fx_print_errors(void)
{
	unsigned long e;
	const char *file, *func, *data;
	int line, flags;
	char buf[256];

	while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		printf("#   %s (%s:%d %s)%s%s\n", buf, file, line, func,
		       (flags & ERR_TXT_STRING) ? " " : "", (flags & ERR_TXT_STRING) ? data : "");
	}
}

void
fx_path(const struct fixture *fx, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", fx->dir, name);
}

static void
show_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		printf("#   | %s%s", line, strchr(line, '\n') != NULL ? "" : "\n");
	fclose(f);
}

int
fx_openssl(struct fixture *fx, const char *fmt, ...)
{
	const char *prog = getenv("CS_OPENSSL");
	char args[4096], log[PATH_MAX + 32], cmd[sizeof(args) + sizeof(log) + PATH_MAX + 64];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(log, sizeof(log), "%s/run-%u.log", fx->dir, fx->runs++);
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>&1 </dev/null",
	         prog != NULL ? prog : "openssl", args, log);
	fflush(stdout);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st)) {
		printf("# could not run: %s\n", cmd);
		return -1;
	}
	if (WEXITSTATUS(st) != 0) {
		printf("# exit %d: %s\n", WEXITSTATUS(st), cmd);
		show_file(log);
	}
	return WEXITSTATUS(st);
}

int
fx_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, n, f) == n;
	ok = (fclose(f) == 0) && ok;
	return ok ? 0 : -1;
}

int
fx_read(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *tmp;
	size_t len = 0, cap = 0, got;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((tmp = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = tmp;
		}
		if ((got = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += got;
	}
	fclose(f);
	*ret = buf;
	*ret_len = len;
	return 0;
}

int
fx_file_equals(const char *path, const void *p, size_t n)
{
	uint8_t *buf;
	size_t len;
	int eq;

	if (fx_read(path, &buf, &len) != 0)
		return 0;
	eq = len == n && memcmp(buf, p, n) == 0;
	if (!eq)
		printf("#   %s: %zu bytes, want %zu\n", path, len, n);
	free(buf);
	return eq;
}

int
fx_write_cms_der(const char *path, CMS_ContentInfo *cms)
{
	BIO *out = BIO_new_file(path, "wb");
	int ok;

	if (out == NULL)
		return -1;
	ok = i2d_CMS_bio(out, cms) == 1;
	BIO_free(out);
	return ok ? 0 : -1;
}

CMS_ContentInfo *
fx_read_cms_der(const char *path)
{
	BIO *in = BIO_new_file(path, "rb");
	CMS_ContentInfo *cms;

	if (in == NULL)
		return NULL;
	cms = d2i_CMS_bio(in, NULL);
	BIO_free(in);
	return cms;
}

int
fx_init(struct fixture *fx)
{
	const char *tmp = getenv("TMPDIR");
	int r;

	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "%s/cs-provider-XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL) {
		printf("# mkdtemp %s failed\n", fx->dir);
		return -1;
	}
	if ((fx->sb = soft_backend_new()) == NULL)
		return -1;
	if ((r = cs_provider_context_new(&fx->sb->ops, &fx->libctx)) != 0) {
		printf("# cs_provider_context_new: %s\n", cs_strerror(r));
		fx_print_errors();
		return -1;
	}
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
fx_done(struct fixture *fx)
{
	cs_provider_context_free(fx->libctx);
	fx->libctx = NULL;
	soft_backend_free(fx->sb);
	fx->sb = NULL;
	if (fx->dir[0] != '\0' && getenv("CS_KEEP_TMP") == NULL)
		(void)nftw(fx->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
fx_identity(struct fixture *fx, struct fx_id *id, const char *name, enum fx_kind kind)
{
	const char *newkey, *usage;
	char file[64];
	FILE *f;
	int r;

	memset(id, 0, sizeof(*id));
	switch (kind) {
	case FX_RSA_SIGN:
		newkey = "rsa:2048";
		usage = "digitalSignature,nonRepudiation";
		break;
	case FX_RSA_ENC:
		newkey = "rsa:2048";
		usage = "keyEncipherment";
		break;
	case FX_EC_SIGN:
		newkey = "ec -pkeyopt ec_paramgen_curve:P-256";
		usage = "digitalSignature,nonRepudiation";
		break;
	case FX_EC_ENC:
		newkey = "ec -pkeyopt ec_paramgen_curve:P-256";
		usage = "keyAgreement";
		break;
	default:
		return -1;
	}
	snprintf(file, sizeof(file), "%s.key", name);
	fx_path(fx, file, id->key_path, sizeof(id->key_path));
	snprintf(file, sizeof(file), "%s.crt", name);
	fx_path(fx, file, id->cert_path, sizeof(id->cert_path));
	snprintf(id->uri, sizeof(id->uri), "pkcs11:token=cardseal-test;object=%s;type=private",
	         name);
	if (fx_openssl(fx,
	               "req -x509 -newkey %s -nodes -keyout '%s' -out '%s' -days 30"
	               " -subj '/CN=%s/emailAddress=%s@example.org'"
	               " -addext 'keyUsage=critical,%s'"
	               " -addext 'extendedKeyUsage=emailProtection'"
	               " -addext 'subjectAltName=email:%s@example.org'",
	               newkey, id->key_path, id->cert_path, name, name, usage, name) != 0)
		return -1;
	if ((f = fopen(id->cert_path, "r")) == NULL)
		return -1;
	id->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(id->key_path, "r")) == NULL)
		return -1;
	id->soft = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (id->cert == NULL || id->soft == NULL)
		return -1;
	if ((r = soft_backend_add_key(fx->sb, id->uri, id->key_path)) != 0 ||
	    (r = cs_provider_token_key(fx->libctx, id->uri, id->cert, &id->token)) != 0) {
		printf("# identity %s: %s\n", name, cs_strerror(r));
		fx_print_errors();
		return -1;
	}
	return 0;
}

void
fx_identity_free(struct fx_id *id)
{
	EVP_PKEY_free(id->token);
	EVP_PKEY_free(id->soft);
	X509_free(id->cert);
	id->token = NULL;
	id->soft = NULL;
	id->cert = NULL;
}
