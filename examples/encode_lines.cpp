// Encode text with a saved vocabulary from C++: libbpe's C API, with handles and buffers
// that free themselves and errors as exceptions.
//
//     encode_lines VOCAB.tiktoken < lines-to-encode
//
// Loads a tiktoken file saved by libbpe with GPT-4's split pattern (as examples/
// train_and_encode.c saves one), adding the special token <|endoftext|> on the id after
// the last rank. Encodes every line of standard input in one batch on every core, prints
// one line of ids per line of input, and checks that the ids of each line decode back to
// it.
//
// Build (see README.md):
//     cargo build --release -p bpe-capi
//     c++ -std=c++17 -I include examples/encode_lines.cpp -L target/release -lbpe
//         -Wl,-rpath,"$PWD/target/release" -o encode_lines        (one command)

#include "bpe.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Throws libbpe's message for the failed call.
void check(bpe_status status, const char *what) {
    if (status != BPE_OK) {
        throw std::runtime_error(std::string(what) + ": " + bpe_last_error_message());
    }
}

// Each kind of handle and buffer, freed by its _free function when it goes out of scope.
struct VocabFree {
    void operator()(bpe_vocab *v) const { bpe_vocab_free(v); }
};
struct EncoderFree {
    void operator()(bpe_encoder *e) const { bpe_encoder_free(e); }
};
using Vocab = std::unique_ptr<bpe_vocab, VocabFree>;
using Encoder = std::unique_ptr<bpe_encoder, EncoderFree>;

struct IdsBatch : bpe_ids_batch {
    IdsBatch() : bpe_ids_batch() {}
    IdsBatch(const IdsBatch &) = delete;
    IdsBatch &operator=(const IdsBatch &) = delete;
    ~IdsBatch() { bpe_ids_batch_free(this); }
};

struct Buffer : bpe_buffer {
    Buffer() : bpe_buffer() {}
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { bpe_buffer_free(this); }
};

bpe_bytes bytes_of(const std::string &s) {
    return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

Vocab load(const char *path, const std::string &special, uint32_t special_id) {
    bpe_bytes name = bytes_of(special);
    bpe_vocab *vocab = nullptr;
    // A NULL pattern is GPT-4's; a tiktoken file does not say which it was made with.
    check(bpe_vocab_load(path, nullptr, special.empty() ? nullptr : &name, &special_id,
                         special.empty() ? 0 : 1, &vocab),
          "bpe_vocab_load");
    return Vocab(vocab);
}

Encoder encoder_for(const char *path) {
    // The file holds the ranks only, so the special token's id is their number.
    size_t ranks = 0;
    check(bpe_vocab_len(load(path, "", 0).get(), &ranks), "bpe_vocab_len");
    Vocab vocab = load(path, "<|endoftext|>", static_cast<uint32_t>(ranks));
    bpe_encoder *encoder = nullptr;
    check(bpe_encoder_new(vocab.get(), &encoder), "bpe_encoder_new");
    return Encoder(encoder);  // the encoder keeps its own copy of the vocabulary
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " VOCAB.tiktoken < lines-to-encode\n";
        return 2;
    }
    try {
        Encoder encoder = encoder_for(argv[1]);
        std::vector<std::string> lines;
        for (std::string line; std::getline(std::cin, line);) lines.push_back(line);
        std::vector<bpe_bytes> texts;
        for (const std::string &line : lines) texts.push_back(bytes_of(line));

        // NULL allowed names: every special token is recognised. 0 threads: one per core.
        IdsBatch batch;
        check(bpe_encoder_encode_batch(encoder.get(), texts.data(), texts.size(), nullptr, 0,
                                       0, &batch),
              "bpe_encoder_encode_batch");
        for (size_t i = 0; i < lines.size(); i++) {
            const uint32_t *ids = batch.ids + batch.offsets[i];
            size_t count = batch.offsets[i + 1] - batch.offsets[i];
            for (size_t k = 0; k < count; k++) std::printf(k ? " %u" : "%u", ids[k]);
            std::printf("\n");

            Buffer text;
            check(bpe_encoder_decode(encoder.get(), ids, count, &text), "bpe_encoder_decode");
            if (std::string(reinterpret_cast<const char *>(text.ptr), text.len) != lines[i]) {
                throw std::runtime_error("line " + std::to_string(i + 1) +
                                         " does not decode back to itself");
            }
        }
    } catch (const std::exception &e) {
        std::cerr << "encode_lines: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
