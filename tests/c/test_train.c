/*
 * Training through the C ABI gives rustbpe's vocabulary, byte for byte in tiktoken's
 * format; saving, loading, parsing and rebuilding it from tokens round-trip; feeding
 * after training and training twice work; the encoder gives tiktoken's ids.
 *
 *     test_train CORPUS EXPECTED_TIKTOKEN SMALL_CASES TMPDIR
 */
#include "test.h"

#define VOCAB_SIZE 600

static const char *SPECIALS[] = {"<|bos|>", "<|eos|>"};

/* What the progress callback saw. */
typedef struct {
    size_t calls;
    uint32_t first_done, last_done, total;
    int went_backwards, total_changed;
} progress_log;

static bool record_progress(void *user_data, uint32_t done, uint32_t total) {
    progress_log *log = user_data;
    if (log->calls == 0) {
        log->first_done = done;
        log->total = total;
    } else {
        log->went_backwards |= done < log->last_done;
        log->total_changed |= total != log->total;
    }
    log->last_done = done;
    log->calls++;
    return true;
}

static bpe_buffer tiktoken_bytes(const bpe_vocab *vocab) {
    bpe_buffer b;
    OK(bpe_vocab_to_tiktoken(vocab, &b));
    return b;
}

static int same_buffer(bpe_buffer b, const char *data, size_t len) {
    return b.len == len && memcmp(b.ptr, data, len) == 0;
}

int main(int argc, char **argv) {
    REQUIRE(argc == 5);
    const char *corpus_path = argv[1], *expected_path = argv[2], *cases_path = argv[3];
    char saved_path[4096];
    snprintf(saved_path, sizeof saved_path, "%s/small-trained.tiktoken", argv[4]);

    CHECK(strlen(bpe_version()) > 0);
    CHECK(strcmp(bpe_last_error_message(), "") == 0);

    size_t corpus_len, expected_len, n_docs;
    char *corpus = read_file(corpus_path, &corpus_len);
    char *expected = read_file(expected_path, &expected_len);
    bpe_bytes *docs = split_lines(corpus, corpus_len, &n_docs);
    REQUIRE(n_docs > 10);
    bpe_bytes specials[2] = {str_bytes(SPECIALS[0]), str_bytes(SPECIALS[1])};

    /* Feed half, train, feed the rest, train again: the second vocabulary is the one
     * rustbpe learns from everything. */
    bpe_trainer *trainer;
    OK(bpe_trainer_new(NULL, 2, &trainer));
    size_t half = n_docs / 2;
    uint64_t documents, bytes, chunks;
    OK(bpe_trainer_stats(trainer, &documents, &bytes, &chunks));
    CHECK(documents == 0 && bytes == 0 && chunks == 0);
    OK(bpe_trainer_feed(trainer, docs, half));
    uint64_t half_bytes = 0;
    for (size_t i = 0; i < half; i++) half_bytes += docs[i].len;
    OK(bpe_trainer_stats(trainer, &documents, &bytes, &chunks));
    CHECK(documents == half && bytes == half_bytes && chunks > 0);

    bpe_vocab *first;
    OK(bpe_trainer_train(trainer, VOCAB_SIZE, specials, 2, NULL, NULL, &first));
    size_t len;
    OK(bpe_vocab_len(first, &len));
    CHECK(len == VOCAB_SIZE - 2);

    OK(bpe_trainer_feed(trainer, docs + half, n_docs - half));
    OK(bpe_trainer_stats(trainer, &documents, NULL, NULL));
    CHECK(documents == n_docs);

    progress_log log = {0};
    bpe_vocab *vocab;
    OK(bpe_trainer_train(trainer, VOCAB_SIZE, specials, 2, record_progress, &log, &vocab));
    OK(bpe_vocab_len(vocab, &len));
    uint32_t merges = (uint32_t)len - 256;
    CHECK(log.calls >= 1 && log.first_done == 1 && log.last_done == merges);
    CHECK(log.total == VOCAB_SIZE - 256 - 2 && !log.went_backwards && !log.total_changed);
    printf("progress callback: %zu calls for %u merges\n", log.calls, merges);

    bpe_buffer trained = tiktoken_bytes(vocab);
    CHECK(same_buffer(trained, expected, expected_len));
    bpe_buffer first_bytes = tiktoken_bytes(first);
    CHECK(!same_buffer(first_bytes, expected, expected_len));
    bpe_buffer_free(&first_bytes);
    bpe_vocab_free(first);

    /* Training again, with nothing new fed, learns the same vocabulary. */
    bpe_vocab *again;
    OK(bpe_trainer_train(trainer, VOCAB_SIZE, specials, 2, NULL, NULL, &again));
    bpe_buffer again_bytes = tiktoken_bytes(again);
    CHECK(same_buffer(again_bytes, expected, expected_len));
    bpe_buffer_free(&again_bytes);
    bpe_vocab_free(again);
    bpe_trainer_free(trainer);

    /* One batch on the default thread count, through the preset, gives the same. */
    OK(bpe_trainer_new_preset("gpt4", 0, &trainer));
    OK(bpe_trainer_feed(trainer, docs, n_docs));
    OK(bpe_trainer_train(trainer, VOCAB_SIZE, specials, 2, NULL, NULL, &again));
    again_bytes = tiktoken_bytes(again);
    CHECK(same_buffer(again_bytes, expected, expected_len));
    bpe_buffer_free(&again_bytes);
    bpe_vocab_free(again);
    bpe_trainer_free(trainer);

    /* The other presets train too (gpt2's pattern runs on the regex engine). */
    const char *presets[] = {"nanochat", "gpt2", "cl100k_base", "r50k_base"};
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        OK(bpe_trainer_new_preset(presets[i], 1, &trainer));
        OK(bpe_trainer_feed(trainer, docs, n_docs));
        OK(bpe_trainer_train(trainer, 300, NULL, 0, NULL, NULL, &again));
        OK(bpe_vocab_len(again, &len));
        CHECK(len == 300);
        bpe_vocab_free(again);
        bpe_trainer_free(trainer);
    }

    /* What the vocabulary tells about itself. */
    uint32_t n_vocab, id;
    OK(bpe_vocab_n_vocab(vocab, &n_vocab));
    CHECK(n_vocab == VOCAB_SIZE);
    size_t n_special;
    OK(bpe_vocab_special_count(vocab, &n_special));
    CHECK(n_special == 2);
    for (size_t i = 0; i < 2; i++) {
        bpe_bytes name;
        OK(bpe_vocab_special_token(vocab, i, &name, &id));
        CHECK(name.len == strlen(SPECIALS[i]) && memcmp(name.ptr, SPECIALS[i], name.len) == 0);
        CHECK(id == VOCAB_SIZE - 2 + i);
        OK(bpe_vocab_special_id(vocab, (const uint8_t *)SPECIALS[i], strlen(SPECIALS[i]), &id));
        CHECK(id == VOCAB_SIZE - 2 + i);
    }
    bpe_bytes token;
    OK(bpe_vocab_token(vocab, 'A', &token));
    CHECK(token.len == 1 && token.ptr[0] == 'A');
    OK(bpe_vocab_token(vocab, 0, &token));
    CHECK(token.len == 1 && token.ptr[0] == 0); /* a token may be a NUL byte */
    OK(bpe_vocab_token(vocab, VOCAB_SIZE - 1, &token));
    CHECK(token.len == 7 && memcmp(token.ptr, "<|eos|>", 7) == 0);
    const char *pattern;
    OK(bpe_vocab_pattern(vocab, &pattern));

    cases_file cases = read_cases(cases_path);
    CHECK(strcmp(pattern, cases.pattern) == 0); /* NULL pattern is GPT-4's, as rustbpe's */

    /* Save, load back with the same pattern and special tokens, and compare. */
    OK(bpe_vocab_save(vocab, saved_path));
    size_t saved_len;
    char *saved = read_file(saved_path, &saved_len);
    CHECK(saved_len == expected_len && memcmp(saved, expected, expected_len) == 0);
    free(saved);
    bpe_vocab *loaded;
    OK(bpe_vocab_load(saved_path, cases.pattern, cases.special_names, cases.special_ids,
                      cases.n_special, &loaded));
    bpe_buffer loaded_bytes = tiktoken_bytes(loaded);
    CHECK(same_buffer(loaded_bytes, expected, expected_len));
    bpe_buffer_free(&loaded_bytes);

    /* The same from memory, and from the tokens one by one. */
    bpe_vocab *parsed;
    OK(bpe_vocab_parse(trained.ptr, trained.len, NULL, specials, (const uint32_t[]){598, 599},
                       2, &parsed));
    bpe_buffer parsed_bytes = tiktoken_bytes(parsed);
    CHECK(same_buffer(parsed_bytes, expected, expected_len));
    bpe_buffer_free(&parsed_bytes);
    bpe_vocab_free(parsed);

    bpe_bytes *tokens = calloc(VOCAB_SIZE - 2, sizeof *tokens);
    REQUIRE(tokens != NULL);
    for (uint32_t i = 0; i < VOCAB_SIZE - 2; i++) OK(bpe_vocab_token(vocab, i, &tokens[i]));
    /* All ranks at once: the same bytes as one by one. */
    size_t *ends = calloc(VOCAB_SIZE - 2, sizeof *ends);
    REQUIRE(ends != NULL);
    bpe_buffer joined;
    OK(bpe_vocab_tokens(vocab, ends, VOCAB_SIZE - 2, &joined));
    CHECK(ends[VOCAB_SIZE - 3] == joined.len);
    for (uint32_t i = 0; i < VOCAB_SIZE - 2; i++) {
        size_t start = i == 0 ? 0 : ends[i - 1];
        CHECK(ends[i] - start == tokens[i].len);
        CHECK(memcmp(joined.ptr + start, tokens[i].ptr, tokens[i].len) == 0);
    }
    bpe_buffer_free(&joined);
    free(ends);
    bpe_vocab *rebuilt;
    OK(bpe_vocab_from_tokens(tokens, VOCAB_SIZE - 2, NULL, NULL, NULL, 0, &rebuilt));
    free(tokens);
    bpe_buffer rebuilt_bytes = tiktoken_bytes(rebuilt);
    CHECK(same_buffer(rebuilt_bytes, expected, expected_len));
    bpe_buffer_free(&rebuilt_bytes);
    OK(bpe_vocab_special_count(rebuilt, &n_special));
    CHECK(n_special == 0);
    OK(bpe_vocab_n_vocab(rebuilt, &n_vocab));
    CHECK(n_vocab == VOCAB_SIZE - 2);
    bpe_vocab_free(rebuilt);
    bpe_buffer_free(&trained);

    /* Encoders from the trained and the loaded vocabulary give tiktoken's ids. An encoder
     * keeps what it needs, so its vocabulary may be freed first. */
    bpe_encoder *from_trained, *from_loaded;
    OK(bpe_encoder_new(vocab, &from_trained));
    OK(bpe_encoder_new(loaded, &from_loaded));
    bpe_vocab_free(vocab);
    bpe_vocab_free(loaded);
    OK(bpe_encoder_n_vocab(from_loaded, &n_vocab));
    CHECK(n_vocab == VOCAB_SIZE);
    check_cases(from_trained, &cases, "trained");
    check_cases(from_loaded, &cases, "loaded");

    /* Only the allowed special tokens are recognised; others are ordinary text. */
    const char *text = "<|bos|>hi<|eos|>";
    bpe_bytes only_bos[1] = {str_bytes("<|bos|>")};
    bpe_ids all, some, none, ordinary;
    OK(bpe_encoder_encode(from_loaded, (const uint8_t *)text, strlen(text), NULL, 0, &all));
    OK(bpe_encoder_encode(from_loaded, (const uint8_t *)text, strlen(text), only_bos, 1, &some));
    OK(bpe_encoder_encode(from_loaded, (const uint8_t *)text, strlen(text), only_bos, 0, &none));
    OK(bpe_encoder_encode_ordinary(from_loaded, (const uint8_t *)text, strlen(text),
                                   &ordinary));
    CHECK(all.len >= 3 && all.ids[0] == 598 && all.ids[all.len - 1] == 599);
    CHECK(some.ids[0] == 598 && some.ids[some.len - 1] != 599);
    CHECK(same_ids(none.ids, none.len, ordinary.ids, ordinary.len));
    CHECK(none.ids[0] != 598);
    bpe_ids_free(&all);
    bpe_ids_free(&some);
    bpe_ids_free(&none);
    bpe_ids_free(&ordinary);

    /* With an unstable end: the ids up to the last chunk, and completions that each decode
     * to that chunk's bytes and more (here " th"); none after a special token. */
    bpe_ids stable, head;
    bpe_ids_batch completions;
    const char *open = "hi th";
    OK(bpe_encoder_encode_with_unstable(from_loaded, (const uint8_t *)open, strlen(open), NULL, 0,
                                        &stable, &completions));
    OK(bpe_encoder_encode_ordinary(from_loaded, (const uint8_t *)"hi", 2, &head));
    CHECK(same_ids(stable.ids, stable.len, head.ids, head.len));
    CHECK(completions.count > 0 && completions.offsets[completions.count] == completions.len);
    for (size_t i = 0; i < completions.count; i++) {
        bpe_buffer bytes;
        size_t at = completions.offsets[i];
        OK(bpe_encoder_decode(from_loaded, completions.ids + at, completions.offsets[i + 1] - at,
                              &bytes));
        CHECK(bytes.len >= 3 && memcmp(bytes.ptr, " th", 3) == 0);
        bpe_buffer_free(&bytes);
    }
    bpe_ids_free(&stable);
    bpe_ids_free(&head);
    bpe_ids_batch_free(&completions);
    OK(bpe_encoder_encode_with_unstable(from_loaded, (const uint8_t *)text, strlen(text), NULL, 0,
                                        &stable, &completions));
    CHECK(stable.len >= 3 && stable.ids[stable.len - 1] == 599 && completions.count == 0);
    bpe_ids_free(&stable);
    bpe_ids_batch_free(&completions);

    /* Empty text: no ids, and a pointer that is not NULL. */
    bpe_ids empty;
    OK(bpe_encoder_encode_ordinary(from_loaded, NULL, 0, &empty));
    CHECK(empty.len == 0 && empty.ids != NULL);
    bpe_ids_free(&empty);
    bpe_buffer nothing;
    OK(bpe_encoder_decode(from_loaded, NULL, 0, &nothing));
    CHECK(nothing.len == 0 && nothing.ptr != NULL);
    bpe_buffer_free(&nothing);

    bpe_encoder_free(from_trained);
    bpe_encoder_free(from_loaded);
    free_cases(&cases);
    free(docs);
    free(corpus);
    free(expected);
    return finish("test_train");
}
