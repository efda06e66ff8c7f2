/* The shell's accounts file (GKeyFile). */
#include "accounts.h"

#include <string.h>

#define DEFAULT_SEND_COMMAND "sendmail -t -oi"

char *
accounts_default_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "cardseal", "accounts.conf", NULL);
}

void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	g_free(a->group);
	g_free(a->address);
	g_free(a->name);
	g_free(a->send_command);
	g_free(a->outbox);
	g_free(a->folder);
	g_free(a);
}

struct account *
account_new_default(const char *address)
{
	struct account *a = g_new0(struct account, 1);

	a->group = g_strdup(address);
	a->address = g_strdup(address);
	a->name = g_strdup("");
	a->send_command = g_strdup(DEFAULT_SEND_COMMAND);
	return a;
}

/* A key's value with ~/ expanded, or NULL when absent or empty. */
static char *
path_value(GKeyFile *kf, const char *group, const char *key)
{
	char *v = g_key_file_get_string(kf, group, key, NULL), *out;

	if (v == NULL || v[0] == '\0') {
		g_free(v);
		return NULL;
	}
	if (strncmp(v, "~/", 2) != 0)
		return v;
	out = g_build_filename(g_get_home_dir(), v + 2, NULL);
	g_free(v);
	return out;
}

GPtrArray *
accounts_load(const char *path, GError **error)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)account_free);
	GKeyFile *kf = g_key_file_new();
	char *file = path != NULL ? g_strdup(path) : accounts_default_path();
	char **groups = NULL;
	gsize i, n = 0;
	GError *e = NULL;

	if (!g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &e)) {
		/* No file is no accounts; a broken one is an error the user must see. */
		if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) && path == NULL) {
			g_clear_error(&e);
			goto out;
		}
		g_propagate_prefixed_error(error, e, "%s: ", file);
		g_clear_pointer(&list, g_ptr_array_unref);
		goto out;
	}
	groups = g_key_file_get_groups(kf, &n);
	for (i = 0; i < n; i++) {
		struct account *a = g_new0(struct account, 1);

		a->group = g_strdup(groups[i]);
		a->address = g_key_file_get_string(kf, groups[i], "address", NULL);
		if (a->address == NULL || strchr(a->address, '@') == NULL) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
			            "%s: account [%s] needs an address (address = you@example.org)",
			            file, groups[i]);
			account_free(a);
			g_clear_pointer(&list, g_ptr_array_unref);
			goto out;
		}
		a->name = g_key_file_get_string(kf, groups[i], "name", NULL);
		if (a->name == NULL)
			a->name = g_strdup("");
		a->send_command = g_key_file_get_string(kf, groups[i], "send-command", NULL);
		if (a->send_command == NULL || a->send_command[0] == '\0') {
			g_free(a->send_command);
			a->send_command = g_strdup(DEFAULT_SEND_COMMAND);
		}
		a->outbox = path_value(kf, groups[i], "outbox");
		a->folder = path_value(kf, groups[i], "folder");
		g_ptr_array_add(list, a);
	}
out:
	g_strfreev(groups);
	g_key_file_free(kf);
	g_free(file);
	return list;
}

char *
account_from_header(const struct account *a)
{
	if (a->name == NULL || a->name[0] == '\0')
		return g_strdup(a->address);
	/* Quote the display name when it holds specials (RFC 5322 3.2.3). */
	if (strpbrk(a->name, "()<>[]:;@\\,.\"") != NULL) {
		GString *s = g_string_new("\"");
		const char *p;

		for (p = a->name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *p);
		}
		g_string_append_printf(s, "\" <%s>", a->address);
		return g_string_free(s, FALSE);
	}
	return g_strdup_printf("%s <%s>", a->name, a->address);
}
