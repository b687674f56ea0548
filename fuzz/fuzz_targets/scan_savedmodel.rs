#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_scan::internal::fuzz_savedmodel(data));
