/*
 * Every error path of the C ABI: the status, a message that says what and where, and
 * out-parameters left untouched.
 *
 *     test_errors CORPUS TMPDIR
 */
#include "test.h"

/* A value no call writes, to see that failed calls leave out-parameters alone. */
#define SENTINEL ((void *)0x5e5e5e5e)

static char tmp_path[4096];

static const char *in_tmp(const char *dir, const char *name) {
    snprintf(tmp_path, sizeof tmp_path, "%s/%s", dir, name);
    return tmp_path;
}

/* A trainer fed with the corpus and its vocabulary of 300 ids with one special token. */
static bpe_trainer *trainer;
static bpe_vocab *vocab;
static bpe_encoder *encoder;

static void null_pointers(void) {
    bpe_trainer *t = SENTINEL;
    bpe_vocab *v = SENTINEL;
    bpe_encoder *e = SENTINEL;
    bpe_ids ids = {SENTINEL, 7};
    bpe_ids_batch batch = {SENTINEL, 7, SENTINEL, 7};
    bpe_buffer buffer = {SENTINEL, 7};
    bpe_bytes bytes = {SENTINEL, 7};
    const char *pattern = SENTINEL;
    size_t size = 7;
    uint32_t id = 7;
    uint64_t count = 7;
    const uint8_t text[] = "text";
    bpe_bytes texts[2] = {str_bytes("fine"), {NULL, 3}};

    FAILS(bpe_trainer_new(NULL, 0, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_trainer_new_preset(NULL, 0, &t), BPE_ERROR_NULL_POINTER, "preset");
    FAILS(bpe_trainer_new_preset("gpt4", 0, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_trainer_feed(NULL, texts, 1), BPE_ERROR_NULL_POINTER, "trainer");
    FAILS(bpe_trainer_feed(trainer, NULL, 1), BPE_ERROR_NULL_POINTER, "documents");
    CHECK(bpe_last_error_document() == -1); /* a NULL batch is no one document's fault */
    FAILS(bpe_trainer_feed(trainer, texts, 2), BPE_ERROR_NULL_POINTER, "documents[1].ptr");
    FAILS(bpe_trainer_cancel(NULL), BPE_ERROR_NULL_POINTER, "trainer");
    FAILS(bpe_trainer_stats(NULL, &count, &count, &count), BPE_ERROR_NULL_POINTER, "trainer");
    FAILS(bpe_trainer_train(NULL, 300, NULL, 0, NULL, NULL, &v), BPE_ERROR_NULL_POINTER,
          "trainer");
    FAILS(bpe_trainer_train(trainer, 300, NULL, 0, NULL, NULL, NULL), BPE_ERROR_NULL_POINTER,
          "out");
    FAILS(bpe_trainer_train(trainer, 300, NULL, 1, NULL, NULL, &v), BPE_ERROR_NULL_POINTER,
          "special_tokens");

    FAILS(bpe_vocab_load(NULL, NULL, NULL, NULL, 0, &v), BPE_ERROR_NULL_POINTER, "path");
    FAILS(bpe_vocab_load("x", NULL, NULL, NULL, 0, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_vocab_load("x", NULL, texts, NULL, 1, &v), BPE_ERROR_NULL_POINTER, "special_ids");
    FAILS(bpe_vocab_parse(NULL, 5, NULL, NULL, NULL, 0, &v), BPE_ERROR_NULL_POINTER, "data");
    FAILS(bpe_vocab_from_tokens(NULL, 256, NULL, NULL, NULL, 0, &v), BPE_ERROR_NULL_POINTER,
          "tokens");
    FAILS(bpe_vocab_save(NULL, "x"), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_save(vocab, NULL), BPE_ERROR_NULL_POINTER, "path");
    FAILS(bpe_vocab_to_tiktoken(NULL, &buffer), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_to_tiktoken(vocab, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_vocab_len(NULL, &size), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_len(vocab, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_vocab_n_vocab(NULL, &id), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_token(NULL, 0, &bytes), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_token(vocab, 0, NULL), BPE_ERROR_NULL_POINTER, "out");
    size_t ends[256];
    FAILS(bpe_vocab_tokens(NULL, ends, 256, &buffer), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_tokens(vocab, NULL, 256, &buffer), BPE_ERROR_NULL_POINTER, "ends");
    FAILS(bpe_vocab_tokens(vocab, ends, 256, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_vocab_tokens(vocab, ends, 5, &buffer), BPE_ERROR_INVALID_ARGUMENT, "count is 5");
    CHECK(buffer.ptr == SENTINEL);
    FAILS(bpe_vocab_pattern(NULL, &pattern), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_special_count(NULL, &size), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_vocab_special_token(vocab, 0, NULL, &id), BPE_ERROR_NULL_POINTER, "name");
    FAILS(bpe_vocab_special_token(vocab, 0, &bytes, NULL), BPE_ERROR_NULL_POINTER, "id");
    FAILS(bpe_vocab_special_id(vocab, NULL, 3, &id), BPE_ERROR_NULL_POINTER, "name");
    FAILS(bpe_vocab_special_id(vocab, text, 4, NULL), BPE_ERROR_NULL_POINTER, "id");

    FAILS(bpe_encoder_new(NULL, &e), BPE_ERROR_NULL_POINTER, "vocab");
    FAILS(bpe_encoder_new(vocab, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_encoder_n_vocab(NULL, &id), BPE_ERROR_NULL_POINTER, "encoder");
    FAILS(bpe_encoder_encode_ordinary(NULL, text, 4, &ids), BPE_ERROR_NULL_POINTER, "encoder");
    FAILS(bpe_encoder_encode_ordinary(encoder, NULL, 4, &ids), BPE_ERROR_NULL_POINTER, "text");
    FAILS(bpe_encoder_encode_ordinary(encoder, text, 4, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_encoder_encode(encoder, text, 4, NULL, 0, NULL), BPE_ERROR_NULL_POINTER, "out");
    FAILS(bpe_encoder_encode(encoder, text, 4, texts, 2, &ids), BPE_ERROR_NULL_POINTER,
          "allowed_special[1].ptr");
    FAILS(bpe_encoder_encode_ordinary_batch(encoder, NULL, 2, 0, &batch),
          BPE_ERROR_NULL_POINTER, "texts");
    FAILS(bpe_encoder_encode_ordinary_batch(encoder, texts, 2, 0, &batch),
          BPE_ERROR_NULL_POINTER, "texts[1].ptr");
    FAILS(bpe_encoder_encode_batch(encoder, texts, 1, NULL, 0, 0, NULL), BPE_ERROR_NULL_POINTER,
          "out");
    FAILS(bpe_encoder_decode(encoder, NULL, 2, &buffer), BPE_ERROR_NULL_POINTER, "ids");
    FAILS(bpe_encoder_decode(NULL, &id, 1, &buffer), BPE_ERROR_NULL_POINTER, "encoder");

    /* Nothing was written by any of them. */
    CHECK(t == SENTINEL && v == SENTINEL && e == SENTINEL && pattern == SENTINEL);
    CHECK(ids.ids == SENTINEL && ids.len == 7 && batch.ids == SENTINEL && batch.count == 7);
    CHECK(buffer.ptr == SENTINEL && bytes.ptr == SENTINEL && size == 7 && id == 7);
    CHECK(count == 7);

    /* Every _free accepts NULL, and a cleared buffer. */
    bpe_trainer_free(NULL);
    bpe_vocab_free(NULL);
    bpe_encoder_free(NULL);
    bpe_ids_free(NULL);
    bpe_ids_batch_free(NULL);
    bpe_buffer_free(NULL);
    bpe_ids cleared = {NULL, 0};
    bpe_ids_free(&cleared);
}

static void invalid_utf8(void) {
    uint64_t documents, bytes, chunks, documents2, bytes2, chunks2;
    OK(bpe_trainer_stats(trainer, &documents, &bytes, &chunks));
    /* Document 2 has its first bad byte (a lone continuation byte) at offset 5. */
    const char *bad = "hello\x80 world";
    bpe_bytes batch[3] = {str_bytes("a fresh document, never seen"), str_bytes("another one"),
                          str_bytes(bad)};
    FAILS(bpe_trainer_feed(trainer, batch, 3), BPE_ERROR_INVALID_UTF8, "document 2");
    CHECK(bpe_last_error_document() == 2);
    CHECK(strstr(bpe_last_error_message(), "offset 5") != NULL);
    /* All or nothing: the two good documents were not counted either. */
    OK(bpe_trainer_stats(trainer, &documents2, &bytes2, &chunks2));
    CHECK(documents2 == documents && bytes2 == bytes && chunks2 == chunks);
    /* A truncated multi-byte character at the end is invalid too. */
    bpe_bytes truncated[1] = {{(const uint8_t *)"caf\xc3", 4}};
    FAILS(bpe_trainer_feed(trainer, truncated, 1), BPE_ERROR_INVALID_UTF8, "offset 3");
    OK(bpe_trainer_stats(trainer, &documents2, &bytes2, &chunks2));
    CHECK(documents2 == documents && bytes2 == bytes && chunks2 == chunks);
    /* The trainer still works. */
    OK(bpe_trainer_feed(trainer, batch, 2));
    OK(bpe_trainer_stats(trainer, &documents2, NULL, NULL));
    CHECK(documents2 == documents + 2);

    bpe_ids ids = {SENTINEL, 7};
    FAILS(bpe_encoder_encode_ordinary(encoder, (const uint8_t *)bad, strlen(bad), &ids),
          BPE_ERROR_INVALID_UTF8, "offset 5");
    FAILS(bpe_encoder_encode(encoder, (const uint8_t *)bad, strlen(bad), NULL, 0, &ids),
          BPE_ERROR_INVALID_UTF8, "offset 5");
    CHECK(ids.ids == SENTINEL);
    bpe_ids_batch out = {SENTINEL, 7, SENTINEL, 7};
    FAILS(bpe_encoder_encode_ordinary_batch(encoder, batch, 3, 2, &out), BPE_ERROR_INVALID_UTF8,
          "document 2");
    CHECK(bpe_last_error_document() == 2);
    FAILS(bpe_encoder_encode_batch(encoder, batch, 3, NULL, 0, 0, &out), BPE_ERROR_INVALID_UTF8,
          "offset 5");
    CHECK(out.ids == SENTINEL && out.offsets == SENTINEL);

    /* Special token names must be UTF-8 too. */
    bpe_bytes bad_special[1] = {str_bytes(bad)};
    bpe_vocab *v = SENTINEL;
    FAILS(bpe_trainer_train(trainer, 300, bad_special, 1, NULL, NULL, &v),
          BPE_ERROR_SPECIAL_TOKEN, "special_tokens[0]");
    CHECK(v == SENTINEL);
}

static void unknown_ids(void) {
    uint32_t n_vocab;
    OK(bpe_encoder_n_vocab(encoder, &n_vocab));
    CHECK(n_vocab == 300);
    uint32_t ids[3] = {104, n_vocab, 105};
    bpe_buffer out = {SENTINEL, 7};
    FAILS(bpe_encoder_decode(encoder, ids, 3, &out), BPE_ERROR_UNKNOWN_ID, "300");
    uint32_t huge[1] = {4000000000u};
    FAILS(bpe_encoder_decode(encoder, huge, 1, &out), BPE_ERROR_UNKNOWN_ID, "4000000000");
    CHECK(out.ptr == SENTINEL);
    bpe_bytes token = {SENTINEL, 7};
    FAILS(bpe_vocab_token(vocab, 300, &token), BPE_ERROR_UNKNOWN_ID, "300");
    CHECK(token.ptr == SENTINEL);
}

static void vocab_size_and_special_tokens(void) {
    bpe_vocab *v = SENTINEL;
    bpe_bytes two[2] = {str_bytes("<|a|>"), str_bytes("<|b|>")};
    FAILS(bpe_trainer_train(trainer, 257, two, 2, NULL, NULL, &v), BPE_ERROR_VOCAB_SIZE,
          "minimum is 258");
    FAILS(bpe_trainer_train(trainer, 0, NULL, 0, NULL, NULL, &v), BPE_ERROR_VOCAB_SIZE,
          "minimum is 256");
    bpe_bytes dup[2] = {str_bytes("<|a|>"), str_bytes("<|a|>")};
    FAILS(bpe_trainer_train(trainer, 300, dup, 2, NULL, NULL, &v), BPE_ERROR_SPECIAL_TOKEN,
          "appears twice");
    bpe_bytes empty[1] = {{NULL, 0}};
    FAILS(bpe_trainer_train(trainer, 300, empty, 1, NULL, NULL, &v), BPE_ERROR_SPECIAL_TOKEN,
          "empty");
    CHECK(v == SENTINEL);
    /* Exactly 256 + specials is allowed: no merges at all. */
    OK(bpe_trainer_train(trainer, 258, two, 2, NULL, NULL, &v));
    size_t len;
    OK(bpe_vocab_len(v, &len));
    CHECK(len == 256);
    bpe_vocab_free(v);

    /* Loading: a special id inside the ranks, or two special tokens with one id. */
    bpe_buffer data;
    OK(bpe_vocab_to_tiktoken(vocab, &data));
    v = SENTINEL;
    FAILS(bpe_vocab_parse(data.ptr, data.len, NULL, two, (const uint32_t[]){298, 300}, 2, &v),
          BPE_ERROR_SPECIAL_TOKEN, "298");
    FAILS(bpe_vocab_parse(data.ptr, data.len, NULL, two, (const uint32_t[]){400, 400}, 2, &v),
          BPE_ERROR_SPECIAL_TOKEN, "reuses id 400");
    FAILS(bpe_vocab_parse(data.ptr, data.len, NULL, dup, (const uint32_t[]){400, 401}, 2, &v),
          BPE_ERROR_SPECIAL_TOKEN, "twice");
    CHECK(v == SENTINEL);
    /* Special ids may leave gaps: n_vocab is the highest id + 1. */
    OK(bpe_vocab_parse(data.ptr, data.len, NULL, two, (const uint32_t[]){1000, 400}, 2, &v));
    uint32_t n_vocab;
    OK(bpe_vocab_n_vocab(v, &n_vocab));
    CHECK(n_vocab == 1001);
    bpe_encoder *e;
    OK(bpe_encoder_new(v, &e));
    uint32_t gap[1] = {500};
    bpe_buffer out;
    FAILS(bpe_encoder_decode(e, gap, 1, &out), BPE_ERROR_UNKNOWN_ID, "500");
    bpe_encoder_free(e);
    bpe_vocab_free(v);
    /* A special id far above the ranks costs no memory for the ids in between; the
     * largest id, whose n_vocab would not fit in 32 bits, is refused. */
    v = SENTINEL;
    FAILS(bpe_vocab_parse(data.ptr, data.len, NULL, two, (const uint32_t[]){4294967295u, 400},
                          2, &v),
          BPE_ERROR_SPECIAL_TOKEN, "4294967295");
    CHECK(v == SENTINEL);
    OK(bpe_vocab_parse(data.ptr, data.len, NULL, two, (const uint32_t[]){4000000000u, 400}, 2,
                       &v));
    OK(bpe_encoder_new(v, &e));
    OK(bpe_encoder_n_vocab(e, &n_vocab));
    CHECK(n_vocab == 4000000001u);
    OK(bpe_encoder_decode(e, (const uint32_t[]){4000000000u, 400}, 2, &out));
    CHECK(out.len == 10 && memcmp(out.ptr, "<|a|><|b|>", 10) == 0);
    bpe_buffer_free(&out);
    bpe_encoder_free(e);
    bpe_vocab_free(v);
    bpe_buffer_free(&data);

    /* Looking special tokens up. */
    uint32_t id = 7;
    bpe_bytes name = {SENTINEL, 7};
    FAILS(bpe_vocab_special_id(vocab, (const uint8_t *)"<|nope|>", 8, &id),
          BPE_ERROR_SPECIAL_TOKEN, "<|nope|>");
    FAILS(bpe_vocab_special_token(vocab, 1, &name, &id), BPE_ERROR_INVALID_ARGUMENT,
          "index 1");
    CHECK(id == 7 && name.ptr == SENTINEL);
}

static void bad_vocabularies(const char *tmp) {
    bpe_vocab *v = SENTINEL;
    const char *malformed = "AA== 0\nAQ== 1\nnot base64! 2\n";
    FAILS(bpe_vocab_parse((const uint8_t *)malformed, strlen(malformed), NULL, NULL, NULL, 0, &v),
          BPE_ERROR_VOCABULARY, "line 3");
    const char *three_fields = "AA== 0\nAQ== 1 extra\n";
    FAILS(bpe_vocab_parse((const uint8_t *)three_fields, strlen(three_fields), NULL, NULL, NULL,
                          0, &v),
          BPE_ERROR_VOCABULARY, "line 2");
    const char *twice = "AA== 0\nAQ== 0\n";
    FAILS(bpe_vocab_parse((const uint8_t *)twice, strlen(twice), NULL, NULL, NULL, 0, &v),
          BPE_ERROR_VOCABULARY, "rank 0 appears twice");

    /* A real file cut off in the middle of a line: the last line names the problem. */
    bpe_buffer data;
    OK(bpe_vocab_to_tiktoken(vocab, &data));
    size_t cut = data.len - 4; /* inside the last line's rank or token */
    while (data.ptr[cut] != ' ') cut--; /* keep only the token: one field */
    size_t lines = 0;
    for (size_t i = 0; i < cut; i++) lines += data.ptr[i] == '\n';
    char where[64];
    snprintf(where, sizeof where, "line %zu", lines + 1);
    const char *path = in_tmp(tmp, "truncated.tiktoken");
    write_file(path, data.ptr, cut);
    FAILS(bpe_vocab_load(path, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY, where);
    CHECK(strstr(bpe_last_error_message(), "truncated.tiktoken") != NULL);
    /* Cut at the end of line 100, every line is fine, but bytes 100..255 have no rank. */
    size_t end = 0;
    for (lines = 0; lines < 100; end++) lines += data.ptr[end] == '\n';
    FAILS(bpe_vocab_parse(data.ptr, end, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY,
          "0x64 has no rank");
    bpe_buffer_free(&data);

    /* Ranks must be 0..n: a gap is reported. */
    const char *gap = "AA== 0\nAQ== 2\n";
    FAILS(bpe_vocab_parse((const uint8_t *)gap, strlen(gap), NULL, NULL, NULL, 0, &v),
          BPE_ERROR_VOCABULARY, "rank 1 is missing");

    /* A gzipped file cut short. */
    const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b};
    FAILS(bpe_vocab_parse(gz, sizeof gz, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY, "gzip");

    /* Token lists: a missing single byte, a duplicate, an empty token. */
    bpe_bytes tokens[258];
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (uint8_t)i;
        tokens[i].ptr = &bytes[i];
        tokens[i].len = 1;
    }
    tokens[256] = str_bytes("ab");
    tokens[257] = str_bytes("ab");
    FAILS(bpe_vocab_from_tokens(tokens, 258, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY,
          "ranks 256 and 257");
    tokens[257] = str_bytes("");
    FAILS(bpe_vocab_from_tokens(tokens, 258, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY,
          "rank 257 is an empty token");
    tokens['A'] = str_bytes("xyz"); /* now no rank holds the single byte 'A' */
    FAILS(bpe_vocab_from_tokens(tokens, 257, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY,
          "0x41");
    FAILS(bpe_vocab_from_tokens(NULL, 0, NULL, NULL, NULL, 0, &v), BPE_ERROR_VOCABULARY,
          "0x00");
    CHECK(v == SENTINEL);
}

static void io_and_arguments(const char *tmp) {
    bpe_vocab *v = SENTINEL;
    bpe_trainer *t = SENTINEL;
    FAILS(bpe_vocab_load("/nonexistent/dir/x.tiktoken", NULL, NULL, NULL, 0, &v), BPE_ERROR_IO,
          "/nonexistent/dir/x.tiktoken");
    FAILS(bpe_vocab_save(vocab, "/nonexistent/dir/y.tiktoken"), BPE_ERROR_IO,
          "/nonexistent/dir/y.tiktoken");
    FAILS(bpe_vocab_save(vocab, tmp), BPE_ERROR_IO, tmp); /* a directory */
    FAILS(bpe_vocab_load("bad\xff.tiktoken", NULL, NULL, NULL, 0, &v),
          BPE_ERROR_INVALID_ARGUMENT, "path");

    FAILS(bpe_trainer_new("(unclosed", 0, &t), BPE_ERROR_PATTERN, "(unclosed");
    FAILS(bpe_trainer_new("\xff", 0, &t), BPE_ERROR_INVALID_ARGUMENT, "pattern");
    FAILS(bpe_trainer_new_preset("gpt5", 0, &t), BPE_ERROR_INVALID_ARGUMENT, "gpt5");
    FAILS(bpe_trainer_new_preset("\xff", 0, &t), BPE_ERROR_INVALID_ARGUMENT, "preset");
    bpe_buffer data;
    OK(bpe_vocab_to_tiktoken(vocab, &data));
    FAILS(bpe_vocab_parse(data.ptr, data.len, "[z-a]", NULL, NULL, 0, &v), BPE_ERROR_PATTERN,
          "[z-a]");
    bpe_buffer_free(&data);
    CHECK(v == SENTINEL && t == SENTINEL);
}

/* Returns false at once: training stops with BPE_ERROR_CANCELLED. */
static bool refuse(void *user_data, uint32_t done, uint32_t total) {
    (void)done;
    (void)total;
    (*(int *)user_data)++;
    return false;
}

static void cancellation(void) {
    int calls = 0;
    bpe_vocab *v = SENTINEL;
    FAILS(bpe_trainer_train(trainer, 400, NULL, 0, refuse, &calls, &v), BPE_ERROR_CANCELLED,
          "progress callback returned false");
    CHECK(calls == 1 && v == SENTINEL);
    /* A cancel made while nothing runs is forgotten by the next call. */
    OK(bpe_trainer_cancel(trainer));
    OK(bpe_trainer_train(trainer, 400, NULL, 0, NULL, NULL, &v));
    bpe_vocab_free(v);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 3);
    const char *tmp = argv[2];
    size_t corpus_len, n_docs;
    char *corpus = read_file(argv[1], &corpus_len);
    bpe_bytes *docs = split_lines(corpus, corpus_len, &n_docs);

    CHECK(strcmp(bpe_last_error_message(), "") == 0);
    OK(bpe_trainer_new(NULL, 0, &trainer));
    OK(bpe_trainer_feed(trainer, docs, n_docs));
    bpe_bytes special[1] = {str_bytes("<|end|>")};
    OK(bpe_trainer_train(trainer, 300, special, 1, NULL, NULL, &vocab));
    OK(bpe_encoder_new(vocab, &encoder));

    null_pointers();
    invalid_utf8();
    unknown_ids();
    vocab_size_and_special_tokens();
    bad_vocabularies(tmp);
    io_and_arguments(tmp);
    cancellation();

    /* The message of the last failure stays until the next failure. */
    FAILS(bpe_vocab_len(NULL, NULL), BPE_ERROR_NULL_POINTER, "NULL");
    size_t len;
    OK(bpe_vocab_len(vocab, &len));
    CHECK(strstr(bpe_last_error_message(), "NULL") != NULL);

    bpe_encoder_free(encoder);
    bpe_vocab_free(vocab);
    bpe_trainer_free(trainer);
    free(docs);
    free(corpus);
    return finish("test_errors");
}
