#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wsdiag_fuzz::http_heads(data));
