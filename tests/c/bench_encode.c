/*
 * The native encoder through the C ABI, in MB/s, on the documents and vocabularies of
 * `anchors.py encode` (written by scripts/bench_data.py): one thread calling
 * bpe_encoder_encode_ordinary() document by document, then bpe_encoder_encode_ordinary_batch()
 * on 2 threads, each with a fresh encoder for every pass, median of 3 passes. The ids are
 * freed as they come, as a caller that consumes them would.
 *
 * Usage: bench_encode DIR NAME...   (run by `scripts/bench encode-c`)
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpe.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void check(enum bpe_status status, const char *what) {
    if (status != BPE_OK) {
        fprintf(stderr, "bench_encode: %s: %s\n", what, bpe_last_error_message());
        exit(1);
    }
}

/* The whole file in memory (NUL-terminated, for the pattern). */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_encode: cannot open %s (run scripts/bench_data.py)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "bench_encode: cannot read %s\n", path);
        exit(1);
    }
    data[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return data;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_encode DIR NAME...\n");
        return 2;
    }
    char path[4096];
    size_t size;
    snprintf(path, sizeof path, "%s/docs.bin", argv[1]);
    char *data = read_file(path, &size);
    /* docs.bin: each document as a little-endian u64 length and its bytes. */
    size_t count = 0, cap = 1024;
    struct bpe_bytes *docs = malloc(cap * sizeof *docs);
    double mb = 0;
    for (size_t at = 0; at + 8 <= size;) {
        uint64_t n;
        memcpy(&n, data + at, 8);
        if (count == cap) {
            cap *= 2;
            docs = realloc(docs, cap * sizeof *docs);
        }
        docs[count].ptr = (const uint8_t *)data + at + 8;
        docs[count].len = (size_t)n;
        count++;
        mb += (double)n / 1e6;
        at += 8 + (size_t)n;
    }
    printf("%zu documents, %.1f MB, through the C ABI\n", count, mb);
    printf("| vocabulary | MB/s, 1 thread | MB/s, batch on 2 threads | ids |\n|---|---|---|---|\n");
    for (int v = 2; v < argc; v++) {
        size_t pattern_len;
        snprintf(path, sizeof path, "%s/%s.pattern", argv[1], argv[v]);
        char *pattern = read_file(path, &pattern_len);
        snprintf(path, sizeof path, "%s/%s.tiktoken", argv[1], argv[v]);
        struct bpe_vocab *vocab;
        check(bpe_vocab_load(path, pattern, NULL, NULL, 0, &vocab), "bpe_vocab_load");
        double single[3], batch[3];
        size_t ids_single = 0, ids_batch = 0;
        for (int pass = 0; pass < 3; pass++) {
            struct bpe_encoder *encoder;
            check(bpe_encoder_new(vocab, &encoder), "bpe_encoder_new");
            double t = now();
            ids_single = 0;
            for (size_t i = 0; i < count; i++) {
                struct bpe_ids ids;
                check(bpe_encoder_encode_ordinary(encoder, docs[i].ptr, docs[i].len, &ids),
                      "bpe_encoder_encode_ordinary");
                ids_single += ids.len;
                bpe_ids_free(&ids);
            }
            single[pass] = mb / (now() - t);
            bpe_encoder_free(encoder);

            check(bpe_encoder_new(vocab, &encoder), "bpe_encoder_new");
            t = now();
            struct bpe_ids_batch out;
            check(bpe_encoder_encode_ordinary_batch(encoder, docs, count, 2, &out),
                  "bpe_encoder_encode_ordinary_batch");
            ids_batch = out.len;
            bpe_ids_batch_free(&out);
            batch[pass] = mb / (now() - t);
            bpe_encoder_free(encoder);
        }
        if (ids_single != ids_batch) {
            fprintf(stderr, "bench_encode: %zu ids one by one, %zu in the batch\n", ids_single, ids_batch);
            return 1;
        }
        qsort(single, 3, sizeof single[0], by_value);
        qsort(batch, 3, sizeof batch[0], by_value);
        printf("| %s | %.1f | %.1f | %zu |\n", argv[v], single[1], batch[1], ids_single);
        bpe_vocab_free(vocab);
        free(pattern);
    }
    free(docs);
    free(data);
    return 0;
}
