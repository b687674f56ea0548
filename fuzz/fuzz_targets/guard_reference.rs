#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_guard::fuzz::fuzz_reference(data));
