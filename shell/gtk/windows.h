/* The shell's windows; each file builds one from its .ui resource. */
#ifndef CSG_WINDOWS_H
#define CSG_WINDOWS_H

#include <gtk/gtk.h>

#include "engine_json.h"

/* reader.c: the main window. */
GtkWindow *reader_window_new(GtkApplication *app);
void reader_open_message(GtkWindow *reader, const char *path);
void reader_open_folder(GtkWindow *reader, const char *dir);

/* details.c: the signature details of a layer, over parent; message_path for Install. */
void details_show(GtkWindow *parent, const struct ej_layer *layer, const char *message_path);

/* composer.c: a new message from account (NULL: the first). */
GtkWindow *composer_new(GtkApplication *app, const char *account, const char *to,
                        const char *subject, const char *const *attachments);
/* composer.c: a reply (reply.h), its fields filled in. */
struct reply;
GtkWindow *composer_new_reply(GtkApplication *app, const struct reply *r);

/* settings_page.c: "Email security". */
GtkWindow *settings_window_new(GtkApplication *app);

/* snapshot.c: writes the screen area of the application's windows to a PNG. */
gboolean snapshot_write(GtkApplication *app, const char *path, GError **error);

#endif
