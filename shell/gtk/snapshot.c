/*
 * Screenshots for the documentation and the tests: the screen area covered
 * by the application's visible windows, read back from the X server (what
 * is on screen, dialogs over their parents included) and saved as a PNG.
 */
#include <errno.h>

#include <glib/gstdio.h>

#include "app.h"
#include "windows.h"

gboolean
snapshot_write(GtkApplication *app, const char *path, GError **error)
{
	GdkRectangle all = {0, 0, 0, 0}, r;
	GList *windows = gtk_window_list_toplevels(), *l;
	GdkWindow *root = gdk_get_default_root_window();
	GdkPixbuf *shot = NULL;
	char *tmp = g_strdup_printf("%s.tmp", path);
	gboolean ok = FALSE, any = FALSE;

	(void)app;
	for (l = windows; l != NULL; l = l->next) {
		GtkWidget *w = l->data;
		GdkWindow *gw = gtk_widget_get_window(w);

		if (!gtk_widget_get_mapped(w) || gw == NULL ||
		    gtk_window_get_window_type(GTK_WINDOW(w)) != GTK_WINDOW_TOPLEVEL)
			continue;
		gdk_window_get_frame_extents(gw, &r);
		if (!any)
			all = r;
		else
			gdk_rectangle_union(&all, &r, &all);
		any = TRUE;
	}
	g_list_free(windows);
	if (!any) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no window to take");
		goto out;
	}
	/* Everything drawn so far reaches the server before it is read back. */
	gdk_display_sync(gdk_display_get_default());
	shot = gdk_pixbuf_get_from_window(root, all.x, all.y, all.width, all.height);
	if (shot == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the screen could not be read");
		goto out;
	}
	if (!gdk_pixbuf_save(shot, tmp, "png", error, NULL))
		goto out;
	if (g_rename(tmp, path) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
		            g_strerror(errno));
		goto out;
	}
	ok = TRUE;
out:
	if (!ok)
		(void)g_unlink(tmp);
	g_clear_object(&shot);
	g_free(tmp);
	return ok;
}
