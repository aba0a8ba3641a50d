/*
 * What the C tests share: checks that report the file and line, file reading, and the
 * cases files that tests/c/expected.py writes.
 *
 * A cases file has one item per line (lines starting with '#' are comments):
 *
 *     vocab PATH                 the tiktoken file the ids come from (optional)
 *     pattern HEX                the split pattern, UTF-8 as hex
 *     special HEX ID             a special token and its id
 *     ordinary HEX ID...         a text (hex, "-" if empty) and tiktoken's encode_ordinary ids
 *     encode HEX ID...           a text and tiktoken's encode(allowed_special="all") ids
 */
#ifndef BPE_TEST_H
#define BPE_TEST_H

/* strdup, strtok_r and pthreads are POSIX; -std=c11 alone hides them. Include this
 * header before any other. */
#define _POSIX_C_SOURCE 200809L

#include "bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

/* Fails the test (but goes on, so one run shows every failure). */
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

/* Stops the test: what follows cannot run without this. */
#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* The call must succeed; otherwise print its status and message and stop. */
#define OK(call)                                                                       \
    do {                                                                               \
        bpe_status ok_status_ = (call);                                                \
        if (ok_status_ != BPE_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call,   \
                    (int)ok_status_, bpe_last_error_message());                        \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* The call must fail with `status`, and its message must contain `needle`. */
#define FAILS(call, status, needle)                                                    \
    expect_failure((call), (status), (needle), #call, __FILE__, __LINE__)

static inline void expect_failure(bpe_status got, bpe_status want, const char *needle,
                                  const char *call, const char *file, int line) {
    const char *message = bpe_last_error_message();
    if (got != want) {
        fprintf(stderr, "%s:%d: %s returned %d, expected %d (message: %s)\n", file, line, call,
                (int)got, (int)want, message);
        failures++;
    } else if (message == NULL || strstr(message, needle) == NULL) {
        fprintf(stderr, "%s:%d: %s: message \"%s\" lacks \"%s\"\n", file, line, call,
                message ? message : "(NULL)", needle);
        failures++;
    }
}

static inline int finish(const char *name) {
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

static inline bpe_bytes str_bytes(const char *s) {
    bpe_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

/* The whole file, NUL-terminated for convenience; *len excludes the NUL. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    REQUIRE(data != NULL);
    size_t got;
    while ((got = fread(data + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            data = realloc(data, cap);
            REQUIRE(data != NULL);
        }
    }
    fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

static inline void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, len, f) == len);
    REQUIRE(fclose(f) == 0);
}

/* The non-empty lines of `data` (without their '\n'), one document each, borrowed from
 * `data`; the caller frees the returned array. */
static inline bpe_bytes *split_lines(const char *data, size_t len, size_t *count) {
    bpe_bytes *docs = calloc(len + 1, sizeof *docs);
    REQUIRE(docs != NULL);
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || data[i] == '\n') {
            if (i > start) {
                docs[n].ptr = (const uint8_t *)data + start;
                docs[n].len = i - start;
                n++;
            }
            start = i + 1;
        }
    }
    *count = n;
    return docs;
}

typedef struct {
    uint8_t *text;
    size_t len;
    uint32_t *ids;
    size_t n_ids;
    int with_specials; /* 1: "encode", 0: "ordinary" */
} test_case;

typedef struct {
    char *vocab;      /* NULL if the file has no vocab line */
    char *pattern;    /* NUL-terminated */
    bpe_bytes *special_names;
    uint32_t *special_ids;
    size_t n_special;
    test_case *cases;
    size_t n_cases;
} cases_file;

static inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    REQUIRE(!"bad hex digit");
    return 0;
}

/* Decodes hex ("-" is empty) into a new NUL-terminated buffer. */
static inline uint8_t *unhex(const char *hex, size_t *len) {
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    uint8_t *out = malloc(n + 1);
    REQUIRE(out != NULL);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
    out[n] = 0;
    *len = n;
    return out;
}

static inline cases_file read_cases(const char *path) {
    size_t len;
    char *data = read_file(path, &len);
    cases_file f;
    memset(&f, 0, sizeof f);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    f.special_names = calloc(lines, sizeof *f.special_names);
    f.special_ids = calloc(lines, sizeof *f.special_ids);
    f.cases = calloc(lines, sizeof *f.cases);
    REQUIRE(f.special_names && f.special_ids && f.cases);
    char *save_line = NULL;
    for (char *line = strtok_r(data, "\n", &save_line); line != NULL;
         line = strtok_r(NULL, "\n", &save_line)) {
        char *save = NULL;
        char *key = strtok_r(line, " ", &save);
        if (key == NULL || key[0] == '#') continue;
        char *arg = strtok_r(NULL, " ", &save);
        REQUIRE(arg != NULL);
        size_t n;
        if (strcmp(key, "vocab") == 0) {
            f.vocab = strdup(arg);
        } else if (strcmp(key, "pattern") == 0) {
            f.pattern = (char *)unhex(arg, &n);
        } else if (strcmp(key, "special") == 0) {
            f.special_names[f.n_special].ptr = unhex(arg, &f.special_names[f.n_special].len);
            char *id = strtok_r(NULL, " ", &save);
            REQUIRE(id != NULL);
            f.special_ids[f.n_special++] = (uint32_t)strtoul(id, NULL, 10);
        } else {
            test_case *c = &f.cases[f.n_cases++];
            REQUIRE(strcmp(key, "ordinary") == 0 || strcmp(key, "encode") == 0);
            c->with_specials = strcmp(key, "encode") == 0;
            c->text = unhex(arg, &c->len);
            c->ids = malloc((strlen(arg) + 1) * sizeof *c->ids); /* more than enough */
            REQUIRE(c->ids != NULL);
            for (char *id = strtok_r(NULL, " ", &save); id; id = strtok_r(NULL, " ", &save))
                c->ids[c->n_ids++] = (uint32_t)strtoul(id, NULL, 10);
        }
    }
    free(data);
    REQUIRE(f.pattern != NULL);
    return f;
}

static inline void free_cases(cases_file *f) {
    for (size_t i = 0; i < f->n_special; i++) free((void *)f->special_names[i].ptr);
    for (size_t i = 0; i < f->n_cases; i++) {
        free(f->cases[i].text);
        free(f->cases[i].ids);
    }
    free(f->vocab);
    free(f->pattern);
    free(f->special_names);
    free(f->special_ids);
    free(f->cases);
}

static inline int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/*
 * Checks every case of `f` with `encoder`: single and batch encoding give tiktoken's ids,
 * and decoding them gives the text back. `label` names the vocabulary in messages.
 */
static inline void check_cases(const bpe_encoder *encoder, const cases_file *f,
                               const char *label) {
    bpe_bytes *texts = calloc(f->n_cases + 1, sizeof *texts);
    REQUIRE(texts != NULL);
    for (size_t i = 0; i < f->n_cases; i++) {
        const test_case *c = &f->cases[i];
        texts[i].ptr = c->text;
        texts[i].len = c->len;
        bpe_ids ids;
        if (c->with_specials)
            OK(bpe_encoder_encode(encoder, c->text, c->len, NULL, 0, &ids));
        else
            OK(bpe_encoder_encode_ordinary(encoder, c->text, c->len, &ids));
        REQUIRE(ids.ids != NULL);
        if (!same_ids(ids.ids, ids.len, c->ids, c->n_ids)) {
            fprintf(stderr, "%s: case %zu (%s %s): %zu ids, tiktoken has %zu\n", label, i,
                    c->with_specials ? "encode" : "ordinary", (const char *)c->text, ids.len,
                    c->n_ids);
            failures++;
        }
        bpe_buffer text;
        OK(bpe_encoder_decode(encoder, ids.ids, ids.len, &text));
        CHECK(text.ptr != NULL);
        CHECK(text.len == c->len && memcmp(text.ptr, c->text, c->len) == 0);
        bpe_buffer_free(&text);
        CHECK(text.ptr == NULL && text.len == 0);
        bpe_ids_free(&ids);
        CHECK(ids.ids == NULL && ids.len == 0);
        bpe_ids_free(&ids); /* a second free of a cleared bpe_ids is harmless */
    }

    /* The batch functions give each text the same ids, on any number of threads. */
    size_t threads[] = {0, 1, 3};
    for (int with_specials = 0; with_specials <= 1; with_specials++) {
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
            bpe_ids_batch batch;
            if (with_specials)
                OK(bpe_encoder_encode_batch(encoder, texts, f->n_cases, NULL, 0, threads[t],
                                            &batch));
            else
                OK(bpe_encoder_encode_ordinary_batch(encoder, texts, f->n_cases, threads[t],
                                                     &batch));
            REQUIRE(batch.count == f->n_cases && batch.offsets != NULL);
            CHECK(batch.offsets[0] == 0 && batch.offsets[batch.count] == batch.len);
            for (size_t i = 0; i < f->n_cases; i++) {
                const test_case *c = &f->cases[i];
                if (c->with_specials != with_specials) continue;
                size_t from = batch.offsets[i], to = batch.offsets[i + 1];
                if (!same_ids(batch.ids + from, to - from, c->ids, c->n_ids)) {
                    fprintf(stderr, "%s: batch (threads %zu) case %zu differs\n", label,
                            threads[t], i);
                    failures++;
                }
            }
            bpe_ids_batch_free(&batch);
            CHECK(batch.ids == NULL && batch.offsets == NULL && batch.count == 0);
        }
    }

    /* An empty batch is fine too, and still has its one offset. */
    bpe_ids_batch empty;
    OK(bpe_encoder_encode_ordinary_batch(encoder, NULL, 0, 0, &empty));
    CHECK(empty.count == 0 && empty.len == 0 && empty.offsets != NULL && empty.offsets[0] == 0);
    bpe_ids_batch_free(&empty);
    free(texts);
}

#endif /* BPE_TEST_H */
