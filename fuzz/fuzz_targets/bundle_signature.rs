#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_bundle::internal::fuzz_signature(data));
