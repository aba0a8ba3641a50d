//! One integration-test binary for bpe-core, one module per stage of the data flow.

mod encode;
mod merge;
mod parts;
mod pretokenize;
mod text;
mod trainer;
mod vocab;
