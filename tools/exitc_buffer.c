/* Memory that is there or ends the program, growable byte buffers, and pack records written into them
 * (layout: tools/exit_pack.h). */
#include <stdlib.h>
#include <string.h>
#include "tools/exitc_api.h"

#define RECORD_ALIGN 8

void *exitc_realloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p) {
        fprintf(stderr, "exitc: out of memory\n");
        exit(2);
    }
    return p;
}

char *exitc_string_copy(const char *s, size_t n)
{
    char *copy = exitc_realloc(NULL, n + 1);
    memcpy(copy, s, n);
    copy[n] = 0;
    return copy;
}

static void reserve(struct exitc_buffer *b, size_t more)
{
    if (b->capacity - b->size >= more)
        return;
    size_t capacity = b->capacity ? b->capacity : 256;
    while (capacity - b->size < more)
        capacity *= 2;
    b->bytes = exitc_realloc(b->bytes, capacity);
    b->capacity = capacity;
}

void exitc_buffer_append(struct exitc_buffer *b, const void *data, size_t size)
{
    if (size == 0)
        return;
    reserve(b, size);
    memcpy(b->bytes + b->size, data, size);
    b->size += size;
}

void exitc_buffer_append_string(struct exitc_buffer *b, const char *s) { exitc_buffer_append(b, s, strlen(s) + 1); }

void exitc_buffer_free(struct exitc_buffer *b)
{
    free(b->bytes);
    *b = (struct exitc_buffer){ 0 };
}

size_t exitc_record_begin(struct exitc_buffer *b, uint16_t op)
{
    size_t begin = b->size;
    struct pack_record r = { op, 0, 0 };
    exitc_buffer_append(b, &r, sizeof r);
    return begin;
}

void exitc_record_end(struct exitc_buffer *b, size_t begin)
{
    uint32_t length = (uint32_t)(b->size - begin - sizeof(struct pack_record));
    memcpy(b->bytes + begin + offsetof(struct pack_record, length), &length, sizeof length);
    static const uint8_t zeros[RECORD_ALIGN];
    exitc_buffer_append(b, zeros, (RECORD_ALIGN - b->size % RECORD_ALIGN) % RECORD_ALIGN);
}
