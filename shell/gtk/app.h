/*
 * cardseal-gtk's shared state: the accounts, the engine's last STATUS and
 * policy, and the widgets that show the smartcards' state live. One
 * instance, owned by main(); windows reach it with csg_app().
 */
#ifndef CSG_APP_H
#define CSG_APP_H

#include <gtk/gtk.h>

#include "accounts.h"
#include "engine_json.h"
#include "engine_task.h"

struct csg_app {
	GtkApplication *gtk;
	GPtrArray *accounts;          /* struct account * (configured, or from identities) */
	gboolean accounts_configured; /* from the file, not guessed */
	struct ej_status *status;     /* last STATUS, or NULL */
	struct ej_policy *policy;     /* last POLICY_GET, or NULL (none, or not offered) */
	GPtrArray *token_labels;      /* GtkLabel * showing the token state (weak) */
	GPtrArray *status_listeners;  /* struct listener *: called after STATUS/policy refresh */
	struct engine_watch *watch;
	char *ui_resource_prefix;
};

struct csg_app *csg_app(void);

/* An account by address (NULL: the first); NULL when there is none. */
const struct account *csg_app_account(const char *address);

/* Shows the token state in label from now on (until the label is destroyed). */
void csg_app_add_token_label(GtkLabel *label);

/* Calls fn(widget) after every STATUS / policy refresh while widget lives. */
void csg_app_on_status(GtkWidget *widget, void (*fn)(GtkWidget *widget));

/* Asks the engine for STATUS and the policy again. */
void csg_app_refresh(void);

/* The smartcards' state in one line per token. */
char *csg_app_token_text(void);

/*
 * Attaches a window's state under key, freed when the window is destroyed
 * (not finalized: the state holds the builder, which holds the window).
 */
void csg_window_state(GtkWidget *window, const char *key, gpointer state, GDestroyNotify free_fn);

/* A GtkBuilder for one of the .ui resources ("main-window.ui" ...). */
GtkBuilder *csg_builder(const char *ui_name);

/* A message dialog over parent (NULL allowed) for an error. */
void csg_show_error(GtkWindow *parent, const char *primary, const char *secondary);

/* Sets an accessible name or description on a widget. */
void csg_a11y_name(GtkWidget *w, const char *name);
void csg_a11y_description(GtkWidget *w, const char *description);

/* A directory for plaintext the shell handles briefly, under $XDG_RUNTIME_DIR (0700). */
char *csg_private_tmpdir(GError **error);
/* Removes such a directory and its files. */
void csg_remove_tmpdir(const char *dir);

#endif
