/* exitc's entry point: the inputs (files, and directories whose *.exits files are taken in name order,
 * so the pack does not depend on the order readdir returns), the pack image, and writing it. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tools/exitc_api.h"

#define SCRIPT_SUFFIX ".exits"

struct path_list {
    char **paths;
    size_t n;
};

static void path_add(struct path_list *l, const char *path)
{
    l->paths = exitc_realloc(l->paths, (l->n + 1) * sizeof *l->paths);
    l->paths[l->n++] = exitc_string_copy(path, strlen(path));
}

static void path_list_free(struct path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
}

static int has_script_suffix(const char *name)
{
    size_t n = strlen(name), suffix = strlen(SCRIPT_SUFFIX);
    return n > suffix && strcmp(name + n - suffix, SCRIPT_SUFFIX) == 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The directory's *.exits regular files, sorted by name. */
static int directory_scripts(const char *dir, struct path_list *out, FILE *diag)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(diag, "exitc: %s: %s\n", dir, strerror(errno));
        return 0;
    }
    struct path_list found = { 0 };
    size_t dir_len = strlen(dir);
    int slash = dir_len > 0 && dir[dir_len - 1] == '/';
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_script_suffix(e->d_name))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s%s%s", dir, slash ? "" : "/", e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            path_add(&found, path);
    }
    closedir(d);
    if (found.n == 0) {
        fprintf(diag, "exitc: %s: no *%s files\n", dir, SCRIPT_SUFFIX);
        return 0;
    }
    qsort(found.paths, found.n, sizeof *found.paths, by_name);
    for (size_t i = 0; i < found.n; i++)
        path_add(out, found.paths[i]);
    path_list_free(&found);
    return 1;
}

static int inputs_collect(const char *const *paths, int n, struct path_list *out, FILE *diag)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            fprintf(diag, "exitc: %s: %s\n", paths[i], strerror(errno));
            return 0;
        }
        if (!S_ISDIR(st.st_mode))
            path_add(out, paths[i]);
        else if (!directory_scripts(paths[i], out, diag))
            return 0;
    }
    return 1;
}

/* The whole file, NUL-terminated. */
static int script_read(const char *path, struct exitc_buffer *text, FILE *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(diag, "exitc: %s: %s\n", path, strerror(errno));
        return 0;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        exitc_buffer_append(text, chunk, n);
    int ok = !ferror(f);
    fclose(f);
    if (!ok)
        fprintf(diag, "exitc: %s: read error\n", path);
    exitc_buffer_append(text, "", 1);
    return ok;
}

void exitc_pack_image(const struct exitc_pack *pack, struct exitc_buffer *image)
{
    struct pack_header h;
    memcpy(h.magic, PACK_MAGIC, sizeof h.magic);
    h.version = PACK_VERSION;
    h.test_count = pack->test_count;
    exitc_buffer_append(image, &h, sizeof h);
    exitc_buffer_append(image, pack->records.bytes, pack->records.size);
}

static int pack_write(const struct exitc_pack *pack, const char *out_path, FILE *diag)
{
    struct exitc_buffer image = { 0 };
    exitc_pack_image(pack, &image);
    int ok = 0;
    FILE *f = NULL;
    if (image.size > PACK_MAX_BYTES)
        fprintf(diag, "exitc: the pack would be %zu bytes; the runner reads at most %u\n", image.size,
                PACK_MAX_BYTES);
    else if (!(f = fopen(out_path, "wb")))
        fprintf(diag, "exitc: %s: %s\n", out_path, strerror(errno));
    else if (!(ok = fwrite(image.bytes, 1, image.size, f) == image.size && fflush(f) == 0))
        fprintf(diag, "exitc: %s: write error\n", out_path);
    if (f && fclose(f) != 0 && ok) {
        fprintf(diag, "exitc: %s: write error\n", out_path);
        ok = 0;
    }
    exitc_buffer_free(&image);
    return ok;
}

static int scripts_compile(const struct path_list *inputs, struct exitc_pack *pack, FILE *diag)
{
    for (size_t i = 0; i < inputs->n; i++) {
        struct exitc_buffer text = { 0 };
        int ok = script_read(inputs->paths[i], &text, diag);
        if (ok)
            exitc_compile_script(pack, inputs->paths[i], (const char *)text.bytes, diag);
        exitc_buffer_free(&text);
        if (!ok)
            return 0;
        if (pack->fatal[0]) {
            fprintf(diag, "exitc: %s\n", pack->fatal);
            return 0;
        }
    }
    return 1;
}

int exitc_compile(const char *const *paths, int n, const char *out_path, FILE *diag)
{
    struct path_list inputs = { 0 };
    struct exitc_pack pack = { 0 };
    int ok = inputs_collect(paths, n, &inputs, diag) && scripts_compile(&inputs, &pack, diag) &&
             pack_write(&pack, out_path, diag);
    if (ok)
        fprintf(diag, "exitc: %s: %u tests from %zu scripts, %u with script errors\n", out_path, pack.test_count,
                inputs.n, pack.error_count);
    exitc_pack_free(&pack);
    path_list_free(&inputs);
    return ok ? 0 : 2;
}
