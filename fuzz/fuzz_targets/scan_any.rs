#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_scan::fuzz::fuzz_scan(data));
