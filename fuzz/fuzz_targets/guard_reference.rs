#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_guard::internal::fuzz_reference(data));
