/*
 * Train a BPE vocabulary with libbpe, save it, and encode text with it.
 *
 *     train_and_encode VOCAB_SIZE OUT.tiktoken FILE...  < lines-to-encode
 *
 * Every line of every FILE is one training document. The vocabulary is saved to
 * OUT.tiktoken (tiktoken's format), then each line of standard input is encoded and its
 * ids are printed, one line of ids per line of input.
 *
 * Build (see README.md):
 *     cargo build --release -p bpe-capi
 *     cc -std=c11 -I include examples/train_and_encode.c -L target/release -lbpe \
 *        -Wl,-rpath,"$PWD/target/release" -o train_and_encode
 */
#define _POSIX_C_SOURCE 200809L /* for getline */

#include "bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints what went wrong and exits if a libbpe call failed. */
static void check(bpe_status status, const char *what) {
    if (status != BPE_OK) {
        fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status,
                bpe_last_error_message());
        exit(1);
    }
}

/* Feeds a file to the trainer, one document per line, in one call: a call splits and
 * counts its documents on every core. (For corpora larger than memory, feed a few
 * thousand documents per call instead.) */
static void feed_file(bpe_trainer *trainer, const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap && (text = realloc(text, cap = 2 * cap + 65536)) == NULL) exit(1);
        got = fread(text + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);

    /* The documents point into `text`; libbpe reads them during the call only. */
    bpe_bytes *documents = malloc((len + 1) * sizeof *documents);
    if (documents == NULL) exit(1);
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            documents[n++] = (bpe_bytes){(const uint8_t *)text + start, i - start};
            start = i + 1;
        }
    }
    check(bpe_trainer_feed(trainer, documents, n), path);
    free(documents);
    free(text);
}

/* Called now and then during training; returning false would cancel it. */
static bool show_progress(void *user_data, uint32_t done, uint32_t total) {
    (void)user_data;
    fprintf(stderr, "\rmerges: %u/%u", done, total);
    return true;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s VOCAB_SIZE OUT.tiktoken FILE... < lines-to-encode\n",
                argv[0]);
        return 2;
    }
    uint32_t vocab_size = (uint32_t)strtoul(argv[1], NULL, 10);
    const char *out_path = argv[2];

    /* NULL pattern: GPT-4's split pattern. 0 threads: one per core. */
    bpe_trainer *trainer;
    check(bpe_trainer_new(NULL, 0, &trainer), "bpe_trainer_new");
    for (int i = 3; i < argc; i++) feed_file(trainer, argv[i]);

    /* One special token; it takes the last id, vocab_size - 1. */
    bpe_bytes specials[] = {{(const uint8_t *)"<|endoftext|>", 13}};
    bpe_vocab *vocab;
    check(bpe_trainer_train(trainer, vocab_size, specials, 1, show_progress, NULL, &vocab),
          "bpe_trainer_train");
    fprintf(stderr, "\n");
    bpe_trainer_free(trainer); /* the vocabulary does not need the trainer */

    check(bpe_vocab_save(vocab, out_path), "bpe_vocab_save");
    fprintf(stderr, "saved %s\n", out_path);

    bpe_encoder *encoder;
    check(bpe_encoder_new(vocab, &encoder), "bpe_encoder_new");
    bpe_vocab_free(vocab); /* the encoder keeps its own copy */

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n') len--;
        bpe_ids ids;
        /* encode (rather than encode_ordinary) turns "<|endoftext|>" into its id. */
        check(bpe_encoder_encode(encoder, (const uint8_t *)line, (size_t)len, NULL, 0, &ids),
              "bpe_encoder_encode");
        for (size_t i = 0; i < ids.len; i++) printf(i ? " %u" : "%u", ids.ids[i]);
        printf("\n");
        bpe_ids_free(&ids);
    }
    free(line);
    bpe_encoder_free(encoder);
    return 0;
}
