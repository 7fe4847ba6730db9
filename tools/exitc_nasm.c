/* `code` blocks through NASM: the block goes into a temporary file after `bits N` and `org GPA`,
 * `nasm -f bin` assembles it, and NASM's first error is mapped back to a line of the block. NASM runs
 * through posix_spawnp (no shell), so nothing in a script or a path is ever interpreted by one. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tools/exitc_api.h"

extern char **environ;

/* The lines written before the block: `bits N` and `org GPA`. */
#define PROLOGUE_LINES 2

struct workdir {
    char dir[256], source[300], output[300], errors[300];
};

static int workdir_create(struct workdir *w)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/exitc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(w->dir))
        return 0;
    snprintf(w->source, sizeof w->source, "%s/block.asm", w->dir);
    snprintf(w->output, sizeof w->output, "%s/block.bin", w->dir);
    snprintf(w->errors, sizeof w->errors, "%s/nasm.err", w->dir);
    return 1;
}

static void workdir_remove(const struct workdir *w)
{
    unlink(w->source);
    unlink(w->output);
    unlink(w->errors);
    rmdir(w->dir);
}

static int file_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The whole file, NUL-terminated; 0 when it cannot be read. */
static int file_read(const char *path, struct exitc_buffer *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        exitc_buffer_append(out, chunk, n);
    int ok = !ferror(f);
    fclose(f);
    return ok;
}

/* Runs `nasm -f bin -o OUTPUT SOURCE` with its stderr in ERRORS; the exit status, or -1 (errno set)
 * when nasm could not be started. */
static int nasm_run(const struct workdir *w)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, w->errors, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[] = { "nasm", "-f", "bin", "-o", (char *)w->output, (char *)w->source, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "nasm", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Whether a line of NASM's stderr reports an error (not a warning, which may contain the word). */
static int is_error_line(const char *line, size_t n)
{
    static const char *const markers[] = { ": error: ", ": fatal: " };
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        const char *hit = strstr(line, markers[i]);
        if (hit && hit < line + n)
            return 1;
    }
    return 0;
}

/* NASM's first error line ("PATH:N: error: ..."), or its first line when none is one. */
static const char *first_error(const char *errors, size_t *length)
{
    for (const char *line = errors; *line;) {
        size_t n = strcspn(line, "\n");
        if (is_error_line(line, n)) {
            *length = n;
            return line;
        }
        line += n + (line[n] == '\n');
    }
    *length = strcspn(errors, "\n");
    return errors;
}

/* "SOURCE:N: message" -> block line N - PROLOGUE_LINES and "message"; otherwise line 0, the whole line. */
static void error_explain(const struct workdir *w, const char *line, size_t length, unsigned *block_line, char *why,
                          size_t why_size)
{
    size_t prefix = strlen(w->source);
    *block_line = 0;
    if (length > prefix && strncmp(line, w->source, prefix) == 0 && line[prefix] == ':') {
        char *end;
        unsigned long n = strtoul(line + prefix + 1, &end, 10);
        if (*end == ':' && n > PROLOGUE_LINES) {
            *block_line = (unsigned)(n - PROLOGUE_LINES);
            length -= (size_t)(end + 1 - line);
            line = end + 1;
            length -= strspn(line, " ");
            line += strspn(line, " ");
        }
    }
    snprintf(why, why_size, "nasm: %.*s", (int)length, line);
}

static enum exitc_assembly rejected(const struct workdir *w, int status, unsigned *line, char *why, size_t why_size)
{
    struct exitc_buffer errors = { 0 };
    file_read(w->errors, &errors);
    exitc_buffer_append(&errors, "", 1);
    size_t length;
    const char *first = first_error((const char *)errors.bytes, &length);
    if (length)
        error_explain(w, first, length, line, why, why_size);
    else
        snprintf(why, why_size, "nasm failed (status %d) without a message", status);
    exitc_buffer_free(&errors);
    return EXITC_NASM_REJECTED;
}

enum exitc_assembly exitc_assemble(unsigned bits, uint64_t org, const char *source, struct exitc_buffer *out,
                                   unsigned *line, char *why, size_t why_size)
{
    struct workdir w;
    *line = 0;
    if (!workdir_create(&w)) {
        snprintf(why, why_size, "cannot create a temporary directory: %s", strerror(errno));
        return EXITC_NASM_UNAVAILABLE;
    }
    struct exitc_buffer text = { 0 };
    char prologue[64];
    snprintf(prologue, sizeof prologue, "bits %u\norg 0x%llx\n", bits, (unsigned long long)org);
    exitc_buffer_append(&text, prologue, strlen(prologue));
    exitc_buffer_append_string(&text, source);
    enum exitc_assembly result = EXITC_ASSEMBLED;
    int status = file_write(w.source, (const char *)text.bytes) ? nasm_run(&w) : -1;
    if (status < 0) {
        snprintf(why, why_size, "cannot run nasm: %s", strerror(errno));
        result = EXITC_NASM_UNAVAILABLE;
    } else if (status != 0) {
        result = rejected(&w, status, line, why, why_size);
    } else if (!file_read(w.output, out)) {
        snprintf(why, why_size, "cannot read nasm's output: %s", strerror(errno));
        result = EXITC_NASM_UNAVAILABLE;
    }
    exitc_buffer_free(&text);
    workdir_remove(&w);
    return result;
}
