/*
 * The real cl100k_base and o200k_base vocabularies (gzipped tiktoken files), loaded from
 * a path and parsed from memory, encode exactly as tiktoken does.
 *
 *     test_tiktoken CASES...      (each names its vocabulary file on a `vocab` line)
 */
#include "test.h"

static void check_vocabulary(const char *cases_path) {
    cases_file cases = read_cases(cases_path);
    REQUIRE(cases.vocab != NULL);
    const char *label = strrchr(cases.vocab, '/') ? strrchr(cases.vocab, '/') + 1 : cases.vocab;

    bpe_vocab *loaded;
    OK(bpe_vocab_load(cases.vocab, cases.pattern, cases.special_names, cases.special_ids,
                      cases.n_special, &loaded));
    size_t len, n_special;
    uint32_t n_vocab, top = 0;
    OK(bpe_vocab_len(loaded, &len));
    OK(bpe_vocab_n_vocab(loaded, &n_vocab));
    OK(bpe_vocab_special_count(loaded, &n_special));
    for (size_t i = 0; i < cases.n_special; i++)
        top = cases.special_ids[i] + 1 > top ? cases.special_ids[i] + 1 : top;
    CHECK(len > 100000 && n_special == cases.n_special && n_vocab == top);
    printf("%s: %zu ranks, n_vocab %u\n", label, len, n_vocab);

    bpe_encoder *encoder;
    OK(bpe_encoder_new(loaded, &encoder));
    check_cases(encoder, &cases, label);
    bpe_encoder_free(encoder);

    /* The same gzipped bytes parsed from memory give the same ranks. */
    size_t gz_len;
    char *gz = read_file(cases.vocab, &gz_len);
    bpe_vocab *parsed;
    OK(bpe_vocab_parse((const uint8_t *)gz, gz_len, cases.pattern, cases.special_names,
                       cases.special_ids, cases.n_special, &parsed));
    free(gz);
    bpe_buffer a, b;
    OK(bpe_vocab_to_tiktoken(loaded, &a));
    OK(bpe_vocab_to_tiktoken(parsed, &b));
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
    bpe_buffer_free(&a);
    bpe_buffer_free(&b);
    bpe_vocab_free(parsed);

    /* cl100k_base with the default pattern (NULL: GPT-4's, run by the hand-written
     * scanner) gives the same ids as with tiktoken's own spelling of it. */
    if (strstr(label, "cl100k_base") != NULL) {
        bpe_vocab *scanner;
        OK(bpe_vocab_load(cases.vocab, NULL, cases.special_names, cases.special_ids,
                          cases.n_special, &scanner));
        OK(bpe_encoder_new(scanner, &encoder));
        bpe_vocab_free(scanner);
        check_cases(encoder, &cases, "cl100k_base, scanner");
        bpe_encoder_free(encoder);
    }
    bpe_vocab_free(loaded);
    free_cases(&cases);
}

int main(int argc, char **argv) {
    REQUIRE(argc >= 2);
    for (int i = 1; i < argc; i++) check_vocabulary(argv[i]);
    return finish("test_tiktoken");
}
