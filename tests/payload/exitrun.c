/* exits.efi: the exit-script runner. Started in the root partition (the loader's next image), it reads
 * exits.pack from its own directory (tools/exit_pack.h, compiled by tools/exitc from the scripts of
 * /work/shared/docs/exit-scripts.md), runs every test through the WHV API as a VMM would, and prints
 * on ConOut (mirrored to COM1):
 *
 *   ok N - NAME | not ok N - NAME # FIRST PROBLEM, then "#   PROBLEM" for each further one
 *   # coverage: None=0 MemoryAccess=5 ...      (exits seen per WHV exit reason, in numeric order)
 *   exits: N passed, N failed
 *
 * A pack that is missing or malformed is one "exits: bad pack: ..." line and one failure. The output
 * holds no addresses and no timings: two runs of one pack print the same bytes. */
#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include "tests/payload/console.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "tests/payload/exitrun.h"

#define LINE_BYTES 1024


/* ---- problems of the current test */

static void problem_v(struct test *t, const char *fmt, va_list ap)
{
    if (t->n_problems < TEST_MAX_PROBLEMS)
        fmt_vsnprintf(t->problems[t->n_problems], TEST_PROBLEM_BYTES, fmt, ap);
    t->n_problems++;
}

void problem(struct test *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_v(t, fmt, ap);
    va_end(ap);
}

void stop(struct test *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_v(t, fmt, ap);
    va_end(ap);
    t->stopped = 1;
}

int whv_ok(struct test *t, HRESULT hr, const char *what, const char *call)
{
    if (FAILED(hr))
        stop(t, "%s: %s failed: HRESULT 0x%08x", what, call, (unsigned)hr);
    return SUCCEEDED(hr);
}

/* ---- one test */

static void test_open(struct test *t, const struct record *begin)
{
    memset(t, 0, sizeof *t);
    t->name = record_string(begin, 0);
    const char *source = record_string(begin, strlen(t->name) + 1);
    size_t length = strlen(source), file_len = length;
    for (size_t i = 0; i < length; i++)
        if (source[i] == ':')
            file_len = i;
    memcpy(t->file, source, file_len < TEST_FILE_BYTES ? file_len : TEST_FILE_BYTES - 1);
    t->mode = PACK_MODE_LONG;
}

/* `mode` and the first code block's RIP describe the VP's starting state wherever they stand in the
 * test: read them before anything runs, so that a `set` always overrides them. */
static void test_plan(struct test *t, const struct pack *p, uint64_t cursor)
{
    struct record r;
    while (pack_next(p, &cursor, &r) && r.op != PACK_TEST_END) {
        if (r.op == PACK_MODE)
            record_read(&r, &t->mode, sizeof t->mode);
        if (r.op == PACK_START_RIP)
            record_read(&r, &t->start_rip, sizeof t->start_rip);
    }
}

static void execute(struct test *t, const struct record *r)
{
    switch (r->op) {
    case PACK_ERROR: stop(t, "%s", record_string(r, 0)); break;
    case PACK_MODE: case PACK_START_RIP: break;   /* taken by test_plan */
    case PACK_PROPERTY: guest_property(t, r); break;
    case PACK_MAP: guest_map(t, r); break;
    case PACK_UNMAP: guest_unmap(t, r); break;
    case PACK_BYTES: guest_bytes(t, r); break;
    case PACK_SET_REG: guest_set_reg(t, r); break;
    case PACK_RUN: guest_run(t, r); break;
    case PACK_EXPECT: check_expect(t, r); break;
    case PACK_EXPECT_BYTES: check_expect_bytes(t, r); break;
    case PACK_EXPECT_REG: check_expect_reg(t, r); break;
    case PACK_ADVANCE: guest_advance(t); break;
    case PACK_CANCEL: guest_cancel(t); break;
    }
}

static void report(const struct test *t, unsigned number)
{
    if (t->n_problems == 0) {
        note("ok %u - %s", number, t->name);
        return;
    }
    note("not ok %u - %s # %s", number, t->name, t->problems[0]);
    unsigned kept = t->n_problems < TEST_MAX_PROBLEMS ? t->n_problems : TEST_MAX_PROBLEMS;
    for (unsigned i = 1; i < kept; i++)
        note("#   %s", t->problems[i]);
    if (t->n_problems > kept)
        note("#   ... and %u more problems", t->n_problems - kept);
}

/* Runs the test whose TEST_BEGIN record is `begin`; *cursor moves past its TEST_END. 1: it passed. */
static int run_test(const struct pack *p, uint64_t *cursor, const struct record *begin, unsigned number)
{
    static struct test t;   /* problems and the last exit: too big for the stack */
    struct record r;
    test_open(&t, begin);
    test_plan(&t, p, *cursor);
    guest_begin(&t);
    while (pack_next(p, cursor, &r) && r.op != PACK_TEST_END)
        if (!t.stopped)
            execute(&t, &r);
    guest_end(&t);
    report(&t, number);
    return t.n_problems == 0;
}

/* ---- the suite */

static void say_coverage(void)
{
    char line[LINE_BYTES];
    size_t at = fmt_snprintf(line, sizeof line, "# coverage:");
    for (int i = 0; i < EXIT_REASON_COUNT; i++)
        at += fmt_snprintf(line + at, sizeof line - at, " %s=%llu", exit_reason_names[i].name,
                           (unsigned long long)exit_reason_seen[i]);
    note("%s", line);
}

static void run_suite(const struct pack *p, unsigned *passed, unsigned *failed)
{
    uint64_t cursor = PACK_FIRST_RECORD;
    struct record begin;
    unsigned number = 0;
    *failed = 0;
    while (pack_next(p, &cursor, &begin)) {
        int ok = run_test(p, &cursor, &begin, ++number);
        *passed += ok;
        *failed += !ok;
    }
    say_coverage();
}

/* \EFI\hvx\exits.efi -> \EFI\hvx\exits.pack (the documented place when the image path is unknown). */
static void pack_path(EFI_LOADED_IMAGE *li, CHAR16 *out, UINTN max)
{
    static const char name[] = PACK_FILE_NAME;
    const CHAR16 *fallback = L"\\EFI\\hvx\\";
    CHAR16 *path = DevicePathToStr(li->FilePath);
    UINTN n = path ? StrLen(path) : 0, cut = 0;
    for (UINTN i = 0; i < n; i++)
        if (path[i] == L'\\' || path[i] == L'/')
            cut = i + 1;
    if (cut + sizeof name > max)
        cut = 0;
    for (UINTN i = 0; i < cut; i++)
        out[i] = path[i] == L'/' ? L'\\' : path[i];
    if (!cut)
        for (; fallback[cut]; cut++)
            out[cut] = fallback[cut];
    for (UINTN i = 0; i < sizeof name; i++)
        out[cut + i] = (CHAR16)name[i];
    if (path)
        FreePool(path);
}

static int read_all(EFI_FILE_HANDLE file, uint8_t *buffer, uint64_t size)
{
    uint64_t done = 0;
    while (done < size) {
        UINTN n = size - done;
        if (uefi_call_wrapper(file->Read, 3, file, &n, buffer + done) != EFI_SUCCESS || n == 0)
            return 0;
        done += n;
    }
    return 1;
}

/* Reads the open pack file into pool memory. */
static int pack_read(EFI_FILE_HANDLE file, struct pack *p)
{
    EFI_FILE_INFO *info = LibFileInfo(file);
    if (!info) {
        note("exits: bad pack: cannot read the size of " PACK_FILE_NAME);
        return 0;
    }
    p->size = info->FileSize;
    FreePool(info);
    if (p->size > PACK_MAX_BYTES) {
        note("exits: bad pack: %llu bytes, more than the %u a pack may have", (unsigned long long)p->size,
            PACK_MAX_BYTES);
        return 0;
    }
    uint8_t *bytes = AllocatePool(p->size ? p->size : 1);
    p->bytes = bytes;
    if (!bytes || !read_all(file, bytes, p->size)) {
        note("exits: bad pack: cannot read its %llu bytes", (unsigned long long)p->size);
        if (bytes)
            FreePool(bytes);
        return 0;
    }
    return 1;
}

/* Finds exits.pack beside the runner and loads it; on failure says why, as a bad pack. */
static int pack_load(EFI_HANDLE image, struct pack *p)
{
    EFI_LOADED_IMAGE *li;
    CHAR16 path[256];
    EFI_FILE_HANDLE root, file;
    if (uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (VOID **)&li) != EFI_SUCCESS) {
        note("exits: bad pack: the runner cannot find its own image, so not the pack beside it");
        return 0;
    }
    pack_path(li, path, sizeof path / sizeof path[0]);
    root = LibOpenRoot(li->DeviceHandle);
    if (!root || uefi_call_wrapper(root->Open, 5, root, &file, path, EFI_FILE_MODE_READ, 0) != EFI_SUCCESS) {
        note("exits: bad pack: no " PACK_FILE_NAME " in the runner's directory");
        return 0;
    }
    int ok = pack_read(file, p);
    uefi_call_wrapper(file->Close, 1, file);
    uefi_call_wrapper(root->Close, 1, root);
    return ok;
}

static int hypervisor_present(void)
{
    WHV_CAPABILITY cap;
    UINT32 written;
    memset(&cap, 0, sizeof cap);
    HRESULT hr = WHvGetCapability(WHvCapabilityCodeHypervisorPresent, &cap, sizeof cap, &written);
    if (FAILED(hr) || !cap.HypervisorPresent)
        note("exits: no hypervisor: WHvGetCapability(HypervisorPresent) says %s (HRESULT 0x%08x)",
            cap.HypervisorPresent ? "yes" : "no", (unsigned)hr);
    return SUCCEEDED(hr) && cap.HypervisorPresent;
}

/* Validates the whole pack, then runs it; *failed stays 1 when it cannot run. */
static void run_pack(const struct pack *p, unsigned *passed, unsigned *failed)
{
    char why[200];
    if (!pack_validate(p, why, sizeof why)) {
        note("exits: bad pack: %s", why);
        return;
    }
    if (!watchdog_init()) {
        note("exits: cannot create the timer event that bounds every run");
        return;
    }
    run_suite(p, passed, failed);
    watchdog_fini();
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    struct pack p;
    unsigned passed = 0, failed = 1;
    if (hypervisor_present() && pack_load(image, &p)) {
        run_pack(&p, &passed, &failed);
        FreePool((VOID *)p.bytes);
    }
    note("exits: %u passed, %u failed", passed, failed);
    return EFI_SUCCESS;
}
