#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_core::internal::fuzz_key_pem(data));
