#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_core::fuzz::fuzz_key_pem(data));
