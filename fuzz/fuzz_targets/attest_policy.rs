#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_attest::internal::fuzz_policy(data));
