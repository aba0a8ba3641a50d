/*
 * Threads: one encoder used by several threads at once gives tiktoken's ids in each;
 * bpe_trainer_cancel from another thread stops a running train, while other calls on the
 * busy trainer are refused; error messages are per thread.
 *
 *     test_threads CORPUS EXPECTED_TIKTOKEN SMALL_CASES
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define THREADS 4
#define ROUNDS 20

typedef struct {
    const bpe_encoder *encoder;
    const cases_file *cases;
    int mismatches; /* each thread counts its own: `failures` is not atomic */
    int errors;
} encode_job;

static void *encode_all(void *arg) {
    encode_job *job = arg;
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < job->cases->n_cases; i++) {
            const test_case *c = &job->cases->cases[i];
            bpe_ids ids;
            bpe_status s = c->with_specials
                               ? bpe_encoder_encode(job->encoder, c->text, c->len, NULL, 0, &ids)
                               : bpe_encoder_encode_ordinary(job->encoder, c->text, c->len, &ids);
            if (s != BPE_OK) {
                job->errors++;
                continue;
            }
            job->mismatches += !same_ids(ids.ids, ids.len, c->ids, c->n_ids);
            bpe_ids_free(&ids);
        }
    }
    return NULL;
}

static void shared_encoder(const char *expected_path, const cases_file *cases) {
    bpe_vocab *vocab;
    OK(bpe_vocab_load(expected_path, cases->pattern, cases->special_names, cases->special_ids,
                      cases->n_special, &vocab));
    bpe_encoder *encoder;
    OK(bpe_encoder_new(vocab, &encoder));
    bpe_vocab_free(vocab);

    pthread_t threads[THREADS];
    encode_job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (encode_job){encoder, cases, 0, 0};
        REQUIRE(pthread_create(&threads[t], NULL, encode_all, &jobs[t]) == 0);
    }
    /* Batch encoding on this thread at the same time, on the encoder's own threads. */
    bpe_bytes *texts = calloc(cases->n_cases, sizeof *texts);
    REQUIRE(texts != NULL);
    for (size_t i = 0; i < cases->n_cases; i++)
        texts[i] = (bpe_bytes){cases->cases[i].text, cases->cases[i].len};
    for (int round = 0; round < ROUNDS; round++) {
        bpe_ids_batch batch;
        OK(bpe_encoder_encode_batch(encoder, texts, cases->n_cases, NULL, 0, 2, &batch));
        for (size_t i = 0; i < cases->n_cases; i++) {
            const test_case *c = &cases->cases[i];
            if (c->with_specials) {
                size_t from = batch.offsets[i], to = batch.offsets[i + 1];
                CHECK(same_ids(batch.ids + from, to - from, c->ids, c->n_ids));
            }
        }
        bpe_ids_batch_free(&batch);
    }
    free(texts);
    for (int t = 0; t < THREADS; t++) {
        REQUIRE(pthread_join(threads[t], NULL) == 0);
        CHECK(jobs[t].mismatches == 0 && jobs[t].errors == 0);
    }
    bpe_encoder_free(encoder);
}

/* The trainer and what the two threads tell each other. */
typedef struct {
    bpe_trainer *trainer;
    atomic_int training; /* the progress callback has run: train is under way */
    atomic_int cancelled; /* the other thread has called bpe_trainer_cancel */
    bpe_status stats_status, feed_status, cancel_status;
    char stats_message[256];
} cancel_job;

/* Holds the first merge until the other thread has cancelled, so the cancel lands while
 * bpe_trainer_train is certainly running, however the threads are scheduled. */
static bool wait_for_cancel(void *user_data, uint32_t done, uint32_t total) {
    cancel_job *job = user_data;
    (void)done;
    (void)total;
    if (!atomic_load(&job->training)) {
        atomic_store(&job->training, 1);
        while (!atomic_load(&job->cancelled)) sched_yield();
    }
    return true; /* the callback itself never cancels */
}

static void *canceller(void *arg) {
    cancel_job *job = arg;
    while (!atomic_load(&job->training)) sched_yield();
    /* The trainer is busy: other calls are refused at once rather than waiting. */
    uint64_t documents;
    job->stats_status = bpe_trainer_stats(job->trainer, &documents, NULL, NULL);
    snprintf(job->stats_message, sizeof job->stats_message, "%s", bpe_last_error_message());
    bpe_bytes doc[1] = {str_bytes("more text")};
    job->feed_status = bpe_trainer_feed(job->trainer, doc, 1);
    job->cancel_status = bpe_trainer_cancel(job->trainer);
    atomic_store(&job->cancelled, 1);
    return NULL;
}

static void cancel_from_another_thread(const char *corpus_path, const char *expected_path,
                                       const cases_file *cases) {
    size_t corpus_len, n_docs, expected_len;
    char *corpus = read_file(corpus_path, &corpus_len);
    char *expected = read_file(expected_path, &expected_len);
    bpe_bytes *docs = split_lines(corpus, corpus_len, &n_docs);

    cancel_job job;
    memset(&job, 0, sizeof job);
    OK(bpe_trainer_new(NULL, 2, &job.trainer));
    OK(bpe_trainer_feed(job.trainer, docs, n_docs));
    uint64_t before, after;
    OK(bpe_trainer_stats(job.trainer, &before, NULL, NULL));

    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, canceller, &job) == 0);
    bpe_vocab *vocab = NULL;
    FAILS(bpe_trainer_train(job.trainer, 600, cases->special_names, cases->n_special,
                            wait_for_cancel, &job, &vocab),
          BPE_ERROR_CANCELLED, "bpe_trainer_cancel");
    REQUIRE(pthread_join(thread, NULL) == 0);
    CHECK(vocab == NULL);
    CHECK(job.stats_status == BPE_ERROR_STATE && strstr(job.stats_message, "in use") != NULL);
    CHECK(job.feed_status == BPE_ERROR_STATE && job.cancel_status == BPE_OK);

    /* Nothing was lost: the counts are as before, and training again gives the full
     * vocabulary. */
    OK(bpe_trainer_stats(job.trainer, &after, NULL, NULL));
    CHECK(after == before);
    OK(bpe_trainer_train(job.trainer, 600, cases->special_names, cases->n_special, NULL, NULL,
                         &vocab));
    bpe_buffer data;
    OK(bpe_vocab_to_tiktoken(vocab, &data));
    CHECK(data.len == expected_len && memcmp(data.ptr, expected, expected_len) == 0);
    bpe_buffer_free(&data);
    bpe_vocab_free(vocab);
    bpe_trainer_free(job.trainer);
    free(docs);
    free(corpus);
    free(expected);
}

static void *fail_once(void *arg) {
    (void)arg;
    size_t len;
    bpe_vocab_len(NULL, &len);
    return strstr(bpe_last_error_message(), "vocab is NULL") ? (void *)1 : NULL;
}

static void messages_per_thread(void) {
    bpe_trainer *t;
    FAILS(bpe_trainer_new_preset("nope", 0, &t), BPE_ERROR_INVALID_ARGUMENT, "nope");
    pthread_t thread;
    void *saw_own = NULL;
    REQUIRE(pthread_create(&thread, NULL, fail_once, NULL) == 0);
    REQUIRE(pthread_join(thread, &saw_own) == 0);
    CHECK(saw_own != NULL);
    CHECK(strstr(bpe_last_error_message(), "nope") != NULL);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 4);
    cases_file cases = read_cases(argv[3]);
    shared_encoder(argv[2], &cases);
    cancel_from_another_thread(argv[1], argv[2], &cases);
    messages_per_thread();
    free_cases(&cases);
    return finish("test_threads");
}
